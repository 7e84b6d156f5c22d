import { describe, expect, it } from "vitest";
import {
  UsageError,
  commandFromWords,
  parseCpOperand,
  parseDurationSec,
  parseKeyValues,
  parseScopes,
  parseSizeMb,
} from "./parse.js";

describe("argument parsing", () => {
  it("reads K=V pairs, keeping '=' inside values", () => {
    expect(parseKeyValues(["A=1", "B=x=y", "C="], "--env")).toEqual({ A: "1", B: "x=y", C: "" });
    expect(() => parseKeyValues(["nope"], "--env")).toThrow(UsageError);
    expect(() => parseKeyValues(["=v"], "--label")).toThrow(/--label "=v" must be KEY=VALUE/);
  });

  it("reads sizes in MiB by default", () => {
    expect(parseSizeMb("512", "--memory")).toBe(512);
    expect(parseSizeMb("512m", "--memory")).toBe(512);
    expect(parseSizeMb("2g", "--memory")).toBe(2048);
    expect(parseSizeMb("1.5GiB", "--memory")).toBe(1536);
    expect(() => parseSizeMb("lots", "--memory")).toThrow(/--memory "lots" must be a size/);
    expect(() => parseSizeMb("0", "--disk")).toThrow(UsageError);
  });

  it("reads durations in seconds by default", () => {
    expect(parseDurationSec("90", "--timeout")).toBe(90);
    expect(parseDurationSec("10m", "--timeout")).toBe(600);
    expect(parseDurationSec("1h30m", "--timeout")).toBe(5400);
    expect(parseDurationSec("500ms", "--timeout")).toBe(0.5);
    expect(() => parseDurationSec("soon", "--timeout")).toThrow(UsageError);
    expect(() => parseDurationSec("10x", "--timeout")).toThrow(UsageError);
  });

  it("tells sandbox paths from local ones", () => {
    expect(parseCpOperand("demo:/etc/hosts")).toEqual({
      kind: "vm",
      vm: "demo",
      path: "/etc/hosts",
    });
    expect(parseCpOperand("./a:b")).toEqual({ kind: "local", path: "./a:b" });
    expect(parseCpOperand("demo:relative")).toEqual({ kind: "local", path: "demo:relative" });
    expect(parseCpOperand("/tmp/x")).toEqual({ kind: "local", path: "/tmp/x" });
  });

  it("runs one word through the shell and several as argv", () => {
    expect(commandFromWords(["echo hi | wc -c"])).toEqual({ command: "echo hi | wc -c" });
    expect(commandFromWords(["ls", "-la", "/"])).toEqual({ command: "ls", args: ["-la", "/"] });
    expect(() => commandFromWords([])).toThrow(UsageError);
  });

  it("checks scopes", () => {
    expect(parseScopes("read, write")).toEqual(["read", "write"]);
    expect(() => parseScopes("root")).toThrow(/scope "root"/);
  });
});
