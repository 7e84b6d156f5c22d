/**
 * Integration-test harness: real worker processes against one PostgreSQL and one Redis.
 * @module
 */
export { startWorkerProcess, waitFor, type WorkerProcess } from "./fleet/fleet.js";
export { testHandlers } from "./fleet/test-handlers.js";
