/**
 * Base64 and UTF-8 helpers that work the same in browsers and Node without `Buffer`: the exec
 * WebSocket carries bytes as base64 and the SDK must not pull Node builtins into a browser bundle.
 * @module
 */

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`. */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Text of UTF-8 `bytes`; invalid sequences become U+FFFD rather than throwing. */
export function utf8Decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Bytes of `data`: a string is encoded as UTF-8, bytes pass through. */
export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? utf8Encode(data) : data;
}

// btoa/atob take "binary strings" (one char per byte); build them in slices so a large chunk does
// not blow the argument limit of String.fromCharCode.
const SLICE = 0x8000;

/** Standard, padded base64 of `bytes`. */
export function base64Encode(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += SLICE) {
    binary += String.fromCharCode(...bytes.subarray(i, i + SLICE));
  }
  return btoa(binary);
}

/** Bytes of standard base64 `text` (padding optional); throws a `SyntaxError`-like error on bad input. */
export function base64Decode(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** One `Uint8Array` holding `chunks` back to back. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
