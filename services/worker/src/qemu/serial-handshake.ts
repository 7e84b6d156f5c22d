import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { serialSyncLine } from "@aetherium/agent";
import { AgentConnectionError, AgentTimeoutError } from "../agent-client/agent-errors.js";

// What may come before the echo (stale output of an earlier connection) is skipped, up to this.
const MAX_SKIPPED_BYTES = 16 * 1024 * 1024;

/**
 * The host side of a serial agent port's sync (see `SERIAL_SYNC_PREFIX` in the agent): sends a
 * fresh nonce and skips everything until the agent echoes it, leaving what follows the echo
 * unread on the socket for the JSON-RPC reader.
 */
export function serialHandshake(socket: Socket, timeoutMs: number): Promise<void> {
  const line = Buffer.from(serialSyncLine(randomBytes(16).toString("hex")), "latin1");
  return new Promise<void>((resolve, reject) => {
    let seen = Buffer.alloc(0);
    let skipped = 0;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.off("readable", onReadable);
      socket.off("close", onClose);
      socket.off("error", onError);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        seen = Buffer.concat([seen, chunk]);
        const at = seen.indexOf(line);
        if (at >= 0) {
          const rest = seen.subarray(at + line.length);
          finish();
          if (rest.length > 0) socket.unshift(rest);
          return;
        }
        // Keep only what could still be the start of the echo.
        const keep = Math.min(seen.length, line.length - 1);
        skipped += seen.length - keep;
        seen = seen.subarray(seen.length - keep);
        if (skipped > MAX_SKIPPED_BYTES) {
          finish(new AgentConnectionError("the agent port sent no sync echo"));
          return;
        }
      }
    };
    const onClose = () =>
      finish(new AgentConnectionError("the agent port closed during the sync handshake"));
    const onError = (err: Error) =>
      finish(new AgentConnectionError(`agent port: ${err.message}`, { cause: err }));
    const timer = setTimeout(
      () => finish(new AgentTimeoutError(`no answer from the agent port within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("readable", onReadable);
    socket.on("close", onClose);
    socket.on("error", onError);
    socket.write(line);
  });
}
