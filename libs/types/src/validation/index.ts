/** Helpers that turn zod errors into messages a user can act on. */
export * from "./format-issues.js";
