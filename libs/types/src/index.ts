/**
 * `@aetherium/types`: zod schemas and inferred types for everything that crosses a boundary —
 * the domain model, API requests/responses, the event catalog and the job catalog.
 *
 * @packageDocumentation
 */
export * from "./agent/index.js";
export * from "./api/index.js";
export * from "./domain/index.js";
export * from "./e2b/index.js";
export * from "./events/index.js";
export * from "./jobs/index.js";
export * from "./validation/index.js";
export { AETHERIUM_VERSION } from "./version.js";
