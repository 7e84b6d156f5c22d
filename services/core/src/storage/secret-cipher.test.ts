import { describe, expect, it } from "vitest";
import { SecretCipher } from "./secret-cipher.js";

describe("SecretCipher", () => {
  const cipher = new SecretCipher("k".repeat(44));

  it("seals with AES-256-GCM: a fresh nonce each time, the key's id, never the value in clear", () => {
    const a = cipher.seal("sk-value-123", "default/ws/TOKEN");
    const b = cipher.seal("sk-value-123", "default/ws/TOKEN");
    expect(a.nonce).toHaveLength(12);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.encryptedValue.toString("latin1")).not.toContain("sk-value");
    expect(a.keyId).toBe(cipher.keyId);
    expect(cipher.keyId).not.toContain("k".repeat(8));
    expect(cipher.open(a, "default/ws/TOKEN")).toBe("sk-value-123");
  });

  it("refuses a value moved to another row, altered, or sealed under another key", () => {
    const sealed = cipher.seal("v", "default/ws1/A");
    expect(() => cipher.open(sealed, "default/ws2/A")).toThrow(/altered or moved/);
    const altered = { ...sealed, encryptedValue: Buffer.from(sealed.encryptedValue) };
    altered.encryptedValue[0]! ^= 1;
    expect(() => cipher.open(altered, "default/ws1/A")).toThrow(/altered or moved/);
    const other = new SecretCipher("o".repeat(44));
    expect(other.keyId).not.toBe(cipher.keyId);
    expect(() => other.open(sealed, "default/ws1/A")).toThrow(/sealed under key k-/);
  });
});
