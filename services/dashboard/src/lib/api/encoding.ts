/** Decoding streamed output. @module */

/**
 * Decodes a stream of UTF-8 chunks into text; a character split across two chunks comes out whole
 * once its second half arrives.
 */
export function createUtf8StreamDecoder(): (chunk: Uint8Array) => string {
  const decoder = new TextDecoder("utf-8");
  return (chunk) => decoder.decode(chunk, { stream: true });
}
