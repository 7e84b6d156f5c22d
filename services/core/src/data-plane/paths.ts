import { BadRequestError, ValidationError } from "@aetherium/common";
import { absolutePathSchema } from "@aetherium/types";

/**
 * A sandbox path from `?path=`: absolute, and without `..` segments. Traversal is refused here,
 * at the data plane, rather than left to whatever the agent would make of it.
 */
export function sandboxPath(raw: string | null): string {
  if (raw === null) throw new BadRequestError("query parameter path is required");
  const parsed = absolutePathSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(parsed.error, "path");
  if (parsed.data.split("/").includes("..")) {
    throw new BadRequestError("path must not contain '..' segments", {
      details: [{ path: "path", message: "must not contain '..' segments" }],
    });
  }
  return parsed.data;
}

/** `?mode=` as permission bits: octal digits (`644`, `0755`), at most `7777`. */
export function fileMode(raw: string | null): number | undefined {
  if (raw === null || raw === "") return undefined;
  if (!/^0?[0-7]{1,4}$/.test(raw)) {
    throw new BadRequestError("mode must be octal permission bits such as 644 or 0755", {
      details: [{ path: "mode", message: "must be octal permission bits, at most 7777" }],
    });
  }
  return parseInt(raw, 8);
}

/** `?recursive=`: true/1 or false/0/absent. */
export function booleanParam(raw: string | null, name: string): boolean {
  if (raw === null || raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw new BadRequestError(`${name} must be true or false`, {
    details: [{ path: name, message: "must be true or false" }],
  });
}
