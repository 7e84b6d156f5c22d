import { z } from "zod";

// Values from env variables and `${VAR}` expansion arrive as strings; these helpers let the schema
// accept both the typed YAML value and its string form, so `port: ${PORT:-8080}` and
// `AETHERIUM_PORT=9000` both become numbers. Anything unparseable is passed through unchanged so
// zod reports it with the expected type.

/** An integer in `[min, max]`, also accepted as a decimal string. */
export function intSetting(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    (v) => (typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: "expected an integer" })
      .int("expected an integer")
      .min(min, `expected an integer >= ${min}`)
      .max(max, `expected an integer <= ${max}`),
  );
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/** A boolean, also accepted as `true/false/1/0/yes/no/on/off` (any case). */
export function boolSetting() {
  return z.preprocess(
    (v) => {
      if (typeof v !== "string") return v;
      const word = v.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return v;
    },
    z.boolean({ error: "expected a boolean (true/false)" }),
  );
}

/** A list of strings, also accepted as one comma-separated string (`a, b,c`). */
export function stringListSetting() {
  return z.preprocess(
    (v) =>
      typeof v === "string"
        ? v
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
        : v,
    z.array(z.string({ error: "expected a string" }), {
      error: "expected a list of strings (or one comma-separated string)",
    }),
  );
}

/** A string-to-string map, also accepted as `key=value,key2=value2`. */
export function stringMapSetting() {
  return z.preprocess(
    (v) => {
      if (typeof v !== "string") return v;
      const out: Record<string, string> = {};
      for (const pair of v.split(",")) {
        if (pair.trim() === "") continue;
        const eq = pair.indexOf("=");
        if (eq <= 0) return v;
        out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
      return out;
    },
    z.record(z.string(), z.coerce.string(), {
      error: "expected a map of strings (or key=value,key2=value2)",
    }),
  );
}

/** A URL whose scheme is one of `schemes` (`postgres`, `redis`, …). */
export function urlSetting(schemes: readonly string[]) {
  return z.string({ error: "expected a URL string" }).refine(
    (v) => {
      try {
        return schemes.includes(new URL(v).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    },
    { error: `expected a URL starting with ${schemes.map((s) => `${s}://`).join(" or ")}` },
  );
}
