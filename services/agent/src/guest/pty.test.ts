import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ptyArgv, shQuote } from "./pty.js";

describe("pty command line", () => {
  it("quotes words so sh gives them back unchanged", () => {
    const words = ["plain", "with space", "it's", `"double" $HOME \`x\` \\ ;|&`, ""];
    const out = execFileSync("/bin/sh", ["-c", `printf '%s\\n' ${words.map(shQuote).join(" ")}`]);
    expect(out.toString()).toBe(words.map((w) => `${w}\n`).join(""));
  });

  it("sets the size first, restores SHELL, and execs the command", () => {
    const argv = ptyArgv(["echo", "a b"], { cols: 80, rows: 24 }, "/bin/bash");
    expect(argv.slice(0, 6)).toEqual(["script", "-q", "-e", "-E", "always", "-c"]);
    expect(argv[6]).toBe(
      ": aetherium-pty-setup; stty rows 24 cols 80 2>/dev/null; SHELL='/bin/bash'; export SHELL; exec 'echo' 'a b'",
    );
    expect(argv[7]).toBe("/dev/null");
    expect(ptyArgv(["true"], { cols: 1, rows: 1 }, undefined)[6]).toContain("unset SHELL; ");
  });

  it("for another user, gives the terminal to the user and drops only the command", () => {
    const named = ptyArgv(["id"], { cols: 80, rows: 24 }, undefined, {
      uid: 1000,
      gid: 1001,
      named: true,
    })[6];
    expect(named).toContain(`chown 1000:1001 "$(tty)" 2>/dev/null; `);
    expect(named).toMatch(/exec setpriv --reuid=1000 --regid=1001 --init-groups -- 'id'$/);
    const numeric = ptyArgv(["id"], { cols: 80, rows: 24 }, undefined, {
      uid: 4242,
      gid: 4242,
      named: false,
    })[6];
    expect(numeric).toContain("--clear-groups -- 'id'");
  });
});
