/**
 * The line a host sends first on every connection to a serial agent port, and the agent echoes
 * before its first JSON-RPC byte: `AETHERIUM-SYNC <nonce>\n` (nonce: 16 to 128 hex digits). A
 * virtio-serial port is one byte stream that outlives host connections, so bytes the agent wrote
 * for an earlier host (held in a write that blocked while no host was connected) can reach the
 * next one; the host skips everything before the echo of its own fresh nonce.
 */
export const SERIAL_SYNC_PREFIX = "AETHERIUM-SYNC ";

/** The sync line for `nonce`. */
export function serialSyncLine(nonce: string): string {
  return `${SERIAL_SYNC_PREFIX}${nonce}\n`;
}

/**
 * What an agent writes first when it opens its serial port: a header block that is no valid
 * message (no `name: value`), so a host still connected to an earlier agent on the same port (one
 * that died and was restarted by the guest's init) sees its connection break at once and dials
 * again, instead of waiting for answers that will never come. A host that connects later skips
 * it with everything else before its sync echo.
 */
export const SERIAL_RESET_BLOCK = "AETHERIUM-RESET\r\n\r\n";
