/**
 * The data plane: the worker's internal exec / files / exec-WebSocket routes, and the client a
 * gateway uses to reach the worker that owns a sandbox.
 */
export {
  DataPlaneClient,
  dataPlaneTargetFor,
  relayExecSockets,
  type DataPlaneClientOptions,
  type DataPlaneTarget,
} from "./data-plane-client.js";
export {
  DATA_PLANE_PREFIX,
  DataPlane,
  type DataPlaneOptions,
  type DataPlaneStats,
} from "./data-plane-server.js";
export { clientErrorResponse, errorFromEnvelope } from "./envelope.js";
export { type RelayOptions } from "./exec-relay.js";
export { BufferWatermark, DEFAULT_MAX_BUFFERED_BYTES } from "./ws-flow.js";
