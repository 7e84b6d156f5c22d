import type { Duplex } from "node:stream";
import { AGENT_OUTPUT_FRAME, type AgentOutputStream } from "@aetherium/types";

/**
 * Writes one binary output frame (`AGENT_OUTPUT_FRAME` in `spec/agent-protocol.md`) to `socket`:
 * the header block, then the bytes as they are. Corked, so header and body leave in one writev
 * without first being copied into one Buffer. Synchronous like {@link SocketMessageWriter}, so
 * frames and JSON-RPC messages reach the peer in the order they were written.
 */
export function writeOutputFrame(
  socket: Duplex,
  processId: string,
  stream: AgentOutputStream,
  seq: number,
  data: Buffer,
): boolean {
  if (socket.destroyed || !socket.writable) return false;
  const head =
    `Content-Length: ${data.length}\r\n` +
    `Content-Type: ${AGENT_OUTPUT_FRAME.contentType}\r\n` +
    `${AGENT_OUTPUT_FRAME.header}: ${processId} ${stream} ${seq}\r\n\r\n`;
  socket.cork();
  socket.write(head, "latin1");
  socket.write(data);
  // uncork on the next tick would batch more frames, but also delay this one; output is already
  // chunked by the pipe (up to 64 KiB a read), so there is little to gain.
  socket.uncork();
  return true;
}
