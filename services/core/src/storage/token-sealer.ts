import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/** Marks a sealed value, and which scheme sealed it. */
const SEALED_PREFIX = "sealed.v1.";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals short secrets a table must hold (a worker's internal token) with AES-256-GCM under a key
 * derived from the configured encryption key, so reading the database alone does not yield
 * them. Each value is bound to its row (`context`, the row's id): a sealed value copied into
 * another row does not open there.
 */
export class TokenSealer {
  readonly #secret: string | Buffer;
  readonly #key: Buffer;

  /**
   * `secret`: the installation's encryption key (`secrets.encryptionKey`), as configured.
   * `purpose` picks a key of its own derived from it, so a value sealed for one use does not
   * open as another.
   */
  constructor(secret: string | Buffer, purpose = "aetherium worker internal token") {
    if (secret.length === 0) throw new Error("TokenSealer needs a non-empty key");
    this.#secret = secret;
    this.#key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), purpose, 32));
  }

  /** A sealer on the same configured key for another purpose. */
  forPurpose(purpose: string): TokenSealer {
    return new TokenSealer(this.#secret, purpose);
  }

  /** True when `stored` looks sealed (it may still not open here). */
  static isSealed(stored: string): boolean {
    return stored.startsWith(SEALED_PREFIX);
  }

  /**
   * A sealer whose key lives only in this process (the same one for every caller in it). For
   * repositories made without a configured key: values sealed here open only in this process.
   */
  static processLocal(): TokenSealer {
    processSealer ??= new TokenSealer(randomBytes(32));
    return processSealer;
  }

  /** `value` sealed for the row `context`, as text: `sealed.v1.<base64url iv|ciphertext|tag>`. */
  seal(value: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
  }

  /**
   * The value `stored` holds for row `context`; undefined when it does not open here: sealed
   * under another key or for another row, altered, or not sealed at all.
   */
  open(stored: string, context: string): string | undefined {
    if (!stored.startsWith(SEALED_PREFIX)) return undefined;
    const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const body = raw.subarray(IV_BYTES, raw.length - TAG_BYTES);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}

let processSealer: TokenSealer | undefined;
