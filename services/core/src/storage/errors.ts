/** PostgreSQL error codes the services branch on (both `pg` and PGlite expose `code`). */
const UNIQUE_VIOLATION = "23505";
const FOREIGN_KEY_VIOLATION = "23503";

interface PgErrorFields {
  code?: unknown;
  constraint?: unknown;
}

function hasCode(error: unknown, code: string, constraint?: string): boolean {
  if (typeof error !== "object" || error === null) return false;
  const fields = error as PgErrorFields;
  return fields.code === code && (constraint === undefined || fields.constraint === constraint);
}

/**
 * True when `error` is a unique-constraint violation (optionally of the named constraint or
 * unique index), e.g. `vms_tenant_name_live_key` for a duplicate sandbox name: a 409, not a 500.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  return hasCode(error, UNIQUE_VIOLATION, constraint);
}

/** True when `error` is a foreign-key violation (a referenced row does not exist). */
export function isForeignKeyViolation(error: unknown, constraint?: string): boolean {
  return hasCode(error, FOREIGN_KEY_VIOLATION, constraint);
}
