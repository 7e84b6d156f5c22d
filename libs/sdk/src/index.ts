/**
 * `@aetherium/sdk`: the typed client of the Aetherium gateway, for Node and the browser.
 * @module
 */
export {
  AetheriumClient,
  errorFromResponse,
  type ClientOptions,
  type HealthResponse,
} from "./client.js";
export {
  AetheriumApiError,
  AuthError,
  BadRequestError,
  ConflictError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  UnavailableError,
} from "./errors.js";
