/** Bytes or text as a Buffer, without copying bytes. */
export function toBuffer(data: Uint8Array | string): Buffer {
  return typeof data === "string"
    ? Buffer.from(data, "utf8")
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
