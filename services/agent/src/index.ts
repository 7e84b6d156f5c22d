/**
 * The guest agent: the program every sandbox runs (bundled into the image by the worker), and the
 * wire module (output frames, message framing, the startup proof) the worker's client shares.
 * @module
 */
import { fileURLToPath } from "node:url";

export { isAgentProof } from "./wire/agent-proof.js";
export { AgentFrameReader, type OutputFrame } from "./wire/frame-reader.js";
export { SocketMessageWriter } from "./wire/socket-message-writer.js";
export { SERIAL_SYNC_PREFIX, serialSyncLine } from "./wire/serial-sync.js";

// Runs as src/index.ts (tests, tsx) or dist/index.js (built): the entry has the same extension.
const ownExt = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

/**
 * Absolute path of the guest program's entry (`guest/agent-main`), TypeScript source or built
 * JavaScript to match how this package was loaded; the worker bundles it into the image.
 */
export const GUEST_ENTRY = fileURLToPath(new URL(`./guest/agent-main${ownExt}`, import.meta.url));
