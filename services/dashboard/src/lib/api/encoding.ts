/** Base64 helpers for the exec WebSocket, which carries bytes base64-encoded. @module */

const encoder = new TextEncoder();

/** Base64 of raw bytes. */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Base64 of a string's UTF-8 bytes. */
export function textToBase64(text: string): string {
  return bytesToBase64(encoder.encode(text));
}

/** Raw bytes of base64 text. */
export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Decodes a stream of UTF-8 chunks into text; a character split across two chunks comes out whole
 * once its second half arrives.
 */
export function createUtf8StreamDecoder(): (chunk: Uint8Array) => string {
  const decoder = new TextDecoder("utf-8");
  return (chunk) => decoder.decode(chunk, { stream: true });
}
