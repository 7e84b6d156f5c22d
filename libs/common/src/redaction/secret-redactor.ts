import { REDACTED } from "../config/redact-config.js";

// Values shorter than this would blank out ordinary words ("a", "on"): they are not redacted, and
// the secret routes should refuse them; see MIN_REDACTABLE_SECRET_LENGTH.
/** The shortest secret value a redactor hides; shorter ones are ignored (they would hide ordinary text). */
export const MIN_REDACTABLE_SECRET_LENGTH = 4;

/**
 * The forms a secret may take in output: the value itself, its base64 (standard and URL-safe,
 * padded and not), and its URL encoding (`encodeURIComponent`). A tool that prints a header, a
 * URL or a basic-auth string must not leak the value through an encoding.
 */
export function secretForms(value: string): string[] {
  if (value.length < MIN_REDACTABLE_SECRET_LENGTH) return [];
  const b64 = Buffer.from(value, "utf8").toString("base64");
  const b64Bare = b64.replace(/=+$/, "");
  const b64Url = b64Bare.replace(/\+/g, "-").replace(/\//g, "_");
  const forms = new Set([value, b64, b64Bare, b64Url, encodeURIComponent(value)]);
  return [...forms].filter((f) => f.length >= MIN_REDACTABLE_SECRET_LENGTH);
}

/**
 * Replaces every secret (in every form {@link secretForms} lists) in whole texts: stored output,
 * error messages, event payloads. For text that arrives in chunks use {@link createStreamRedactor},
 * which also catches a secret split across two chunks.
 */
export interface SecretRedactor {
  /** `text` with every known secret form replaced by {@link REDACTED}. */
  redact(text: string): string;
  /** Length of the longest form: how much a stream must hold back to catch a split secret. */
  readonly longestForm: number;
}

/** A redactor for `values` (secret values; empty and too-short ones are ignored). */
export function createSecretRedactor(values: Iterable<string>): SecretRedactor {
  const forms = [...new Set([...values].flatMap(secretForms))].sort((a, b) => b.length - a.length);
  if (forms.length === 0) return { redact: (text) => text, longestForm: 0 };
  // Longest first so a value that contains another is replaced whole.
  const pattern = new RegExp(forms.map(escapeRegExp).join("|"), "g");
  return {
    redact: (text) => text.replace(pattern, REDACTED),
    longestForm: forms[0]!.length,
  };
}

/**
 * A redactor for a stream of text chunks. `push` returns what can be released now: everything
 * but the last `longestForm - 1` characters, which are held until the next chunk shows whether
 * they start a secret. `flush` releases the rest at the end of the stream.
 */
export interface StreamRedactor {
  /** Adds a chunk; returns the redacted text that is safe to release now (may be ""). */
  push(chunk: string): string;
  /** Ends the stream; returns the redacted remainder. */
  flush(): string;
}

/** A {@link StreamRedactor} over `redactor`. */
export function createStreamRedactor(redactor: SecretRedactor): StreamRedactor {
  const hold = Math.max(0, redactor.longestForm - 1);
  let pending = "";
  return {
    push(chunk) {
      if (hold === 0) return chunk;
      const text = redactor.redact(pending + chunk);
      // A completed replacement is never split: cut before any marker that reaches into the tail.
      let cut = Math.max(0, text.length - hold);
      const marker = text.lastIndexOf(REDACTED, cut);
      if (marker !== -1 && marker + REDACTED.length > cut) cut = marker + REDACTED.length;
      pending = text.slice(cut);
      return text.slice(0, cut);
    },
    flush() {
      const rest = redactor.redact(pending);
      pending = "";
      return rest;
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
