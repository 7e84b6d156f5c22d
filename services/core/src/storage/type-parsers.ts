/**
 * Text-format value parsers shared by both engines, so a row reads the same whether it came from
 * PostgreSQL through `pg` or from PGlite.
 *
 * Defaults differ between the two drivers: `pg` returns int8 and numeric as strings and parses
 * `timestamp`/`date` in the process's local time zone; PGlite returns int8 as a number, numeric as
 * a string, `date` as a Date at UTC midnight and bytea as a plain Uint8Array. The overrides below
 * settle on one behaviour for all of them.
 */

/** PostgreSQL type OIDs whose parsing we override. */
export const PG_TYPE = {
  BYTEA: 17,
  INT8: 20,
  DATE: 1082,
  TIMESTAMP: 1114,
  NUMERIC: 1700,
} as const;

/** A text-format parser for one PostgreSQL type. */
export type TextParser = (value: string) => unknown;

/** int8 (counts, sums of integers, bigserial): a number while exact, a bigint beyond 2^53. */
export function parseInt8(value: string): number | bigint {
  const big = BigInt(value);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(big)
    : big;
}

/**
 * numeric (what `sum(bigint)` and `avg()` return): a number. The schema stores no money-like
 * numeric columns, so the precision a double gives up does not matter here.
 */
export function parseNumeric(value: string): number {
  return Number(value);
}

/** `timestamp without time zone` is read as UTC, never as the server process's local time. */
export function parseTimestampUtc(value: string): Date | number {
  if (value === "infinity") return Infinity;
  if (value === "-infinity") return -Infinity;
  return new Date(`${value.replace(" ", "T")}Z`);
}

/** `date` stays the calendar string `YYYY-MM-DD`: a Date would invent a time and a zone. */
export function parseDate(value: string): string {
  return value;
}

/** bytea (`\x…` hex text) as a Node Buffer, which is what `pg` returns. */
export function parseBytea(value: string): Buffer {
  return Buffer.from(value.slice(2), "hex");
}

/** Parsers for `pg`; it already returns Buffers for bytea and Dates for timestamptz. */
export const PG_PARSERS: Readonly<Record<number, TextParser>> = {
  [PG_TYPE.INT8]: parseInt8,
  [PG_TYPE.NUMERIC]: parseNumeric,
  [PG_TYPE.TIMESTAMP]: parseTimestampUtc,
  [PG_TYPE.DATE]: parseDate,
};

/** Parsers for PGlite; it already returns Dates for timestamptz and safe int8 as numbers. */
export const PGLITE_PARSERS: Readonly<Record<number, TextParser>> = {
  [PG_TYPE.INT8]: parseInt8,
  [PG_TYPE.NUMERIC]: parseNumeric,
  [PG_TYPE.TIMESTAMP]: parseTimestampUtc,
  [PG_TYPE.DATE]: parseDate,
  [PG_TYPE.BYTEA]: parseBytea,
};
