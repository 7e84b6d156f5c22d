import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A secret value as stored: ciphertext with its tag, the nonce, and which key sealed it. */
export interface SealedSecret {
  readonly encryptedValue: Buffer;
  readonly nonce: Buffer;
  readonly keyId: string;
}

/**
 * Encrypts workspace and global secrets with AES-256-GCM under a key derived from the
 * installation's encryption key. Each value is bound to where it belongs (`context`: tenant,
 * workspace, name), so a ciphertext copied to another row does not open. `keyId` names the key
 * (a hash of the derived key, never the key), so a value sealed under an earlier key is
 * recognised as such instead of failing as corrupt.
 */
export class SecretCipher {
  readonly #key: Buffer;
  /** The id stored beside every value this cipher seals. */
  readonly keyId: string;

  /** `secret`: the installation's encryption key, as configured. */
  constructor(secret: string | Buffer) {
    if (secret.length === 0) throw new Error("SecretCipher needs a non-empty key");
    this.#key = Buffer.from(
      hkdfSync("sha256", secret, Buffer.alloc(0), "aetherium workspace secrets", 32),
    );
    this.keyId = `k-${createHash("sha256").update(this.#key).digest("hex").slice(0, 16)}`;
  }

  /** Seals `value` for `context`. */
  seal(value: string, context: string): SealedSecret {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return { encryptedValue: Buffer.concat([body, cipher.getAuthTag()]), nonce, keyId: this.keyId };
  }

  /**
   * The value, or an error saying why it does not open: sealed under another key (`keyId`
   * differs: the configured key changed), or altered.
   */
  open(stored: SealedSecret, context: string): string {
    if (stored.keyId !== this.keyId) {
      throw new Error(
        `sealed under key ${stored.keyId}, but this process has key ${this.keyId}: set the encryption key it was made with, or add the secret again`,
      );
    }
    const raw = Buffer.from(stored.encryptedValue);
    if (raw.length < TAG_BYTES) throw new Error("the stored value is damaged");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(stored.nonce));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const body = raw.subarray(0, raw.length - TAG_BYTES);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
    } catch {
      throw new Error("the stored value does not open: it was altered or moved to another row");
    }
  }
}
