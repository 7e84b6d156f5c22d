/**
 * The `aether` command line, as a library: `runAether(argv)` runs one command line.
 * @module
 */
export {};
