import { describe, expect, it } from "vitest";
import { REDACTED } from "../config/redact-config.js";
import { createSecretRedactor, createStreamRedactor } from "./secret-redactor.js";

const SECRET = "sk-live/abc+def?x=1";

describe("createSecretRedactor", () => {
  it("hides the value and its base64 and URL-encoded forms", () => {
    const r = createSecretRedactor([SECRET]);
    const b64 = Buffer.from(SECRET).toString("base64");
    const text = `raw=${SECRET} b64=${b64} bare=${b64.replace(/=+$/, "")} url=${encodeURIComponent(SECRET)}`;
    const out = r.redact(text);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(b64.replace(/=+$/, ""));
    expect(out).not.toContain(encodeURIComponent(SECRET));
    expect(out.split(REDACTED)).toHaveLength(5);
  });

  it("leaves text alone when there is nothing to hide, and ignores too-short values", () => {
    const r = createSecretRedactor(["", "ab"]);
    expect(r.redact("ab cd")).toBe("ab cd");
  });

  it("replaces a value containing another one whole", () => {
    const r = createSecretRedactor(["token", "token-extended"]);
    expect(r.redact("x token-extended y token")).toBe(`x ${REDACTED} y ${REDACTED}`);
  });
});

describe("createStreamRedactor", () => {
  it("catches a secret split across chunks, whatever the split", () => {
    const text = `before ${SECRET} middle ${SECRET}after`;
    for (let size = 1; size <= text.length; size++) {
      const s = createStreamRedactor(createSecretRedactor([SECRET]));
      let out = "";
      for (let i = 0; i < text.length; i += size) out += s.push(text.slice(i, i + size));
      out += s.flush();
      expect(out).toBe(`before ${REDACTED} middle ${REDACTED}after`);
    }
  });

  it("passes text straight through when there are no secrets", () => {
    const s = createStreamRedactor(createSecretRedactor([]));
    expect(s.push("hello")).toBe("hello");
    expect(s.flush()).toBe("");
  });
});
