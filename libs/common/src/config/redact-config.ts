import { isPlainObject } from "./expand-vars.js";

/** What secrets are replaced with. */
export const REDACTED = "[redacted]";

// Keys whose values are secrets wherever they appear (apiKey, encryptionKey, password, token…);
// an incoming-webhook URL is one too: whoever has it may post.
const SECRET_KEY = /(apikey|password|passwd|secret|token|encryptionkey|privatekey|webhookurl)$/i;
// `scheme://user:password@` — the password part of a URL's userinfo.
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)([^/?#@]*)(@)/i;

/**
 * Returns a deep copy of `config` that is safe to print (`aetherium config`) or log: values of
 * secret keys (`auth.apiKey`, `secrets.encryptionKey`, anything named `*password`/`*token`/
 * `*secret`) become `"[redacted]"`, and so do passwords inside URLs
 * (`postgres://u:pass@h/db` → `postgres://u:[redacted]@h/db`). Unset secrets stay unset, so the
 * output still shows whether one is configured.
 */
export function redactConfig<T>(config: T): T {
  return redactValue(config, false) as T;
}

function redactValue(value: unknown, secret: boolean): unknown {
  if (typeof value === "string") {
    if (secret) return REDACTED;
    return value.replace(URL_PASSWORD, (_, head: string, pass: string, at: string) =>
      pass === "" ? `${head}${at}` : `${head}${REDACTED}${at}`,
    );
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secret));
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [
        key,
        redactValue(v, secret || SECRET_KEY.test(key)),
      ]),
    );
  }
  if (secret && value !== undefined && value !== null) return REDACTED;
  return value;
}
