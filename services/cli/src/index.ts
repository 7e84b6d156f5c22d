/**
 * The `aether` command line, as a library: `runAether(argv, io)` runs one command line.
 * @module
 */
export { runAether } from "./program.js";
export { processIo, type CliIo, type InStream, type OutStream } from "./io.js";
export { DEFAULT_URL, resolveApiKey, resolveUrl, type GlobalOptions } from "./context.js";
export { describeError, exitCodeFor, type ErrorContext } from "./format/errors.js";
export { UsageError } from "./parse.js";
