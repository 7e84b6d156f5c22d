import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { shellQuote } from "./shell-quote.js";

describe("shellQuote", () => {
  it("makes sh read back exactly the word, quotes, spaces and expansions included", () => {
    for (const word of ["plain", "it's", "a b", "$HOME `id` $(id)", "'", "", "x\ny", "*"]) {
      const echoed = execFileSync("sh", ["-c", `printf %s ${shellQuote(word)}`], {
        encoding: "utf8",
      });
      expect(echoed).toBe(word);
    }
  });
});
