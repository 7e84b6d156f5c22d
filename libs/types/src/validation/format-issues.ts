import type { z } from "zod";

/**
 * Renders zod issues as one line per problem, each prefixed by the dotted path of the field it is
 * about (`vcpus: must be between 1 and 64`), so an error message alone tells a user what to fix.
 * Nested issues of record keys and unions are unwrapped because their outer message
 * ("Invalid key in record") names nothing useful.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_key" || issue.code === "invalid_element") {
      lines.push(...formatIssues(issue.issues, path));
      continue;
    }
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // The branch with the fewest problems is almost always the one the caller meant.
      const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      if (closest.length > 0) {
        lines.push(...formatIssues(closest, path));
        continue;
      }
    }
    lines.push(`${formatPath(path)}: ${issue.message}`);
  }
  return lines;
}

/** Formats a zod issue path as `a.b[0].c`; the empty path is shown as `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Formats a whole zod error as a single `; `-separated line, for exception messages and logs. */
export function formatZodError(error: z.ZodError): string {
  return formatIssues(error.issues).join("; ");
}
