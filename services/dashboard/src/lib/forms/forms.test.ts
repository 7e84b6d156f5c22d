import { describe, expect, it } from "vitest";
import {
  backendChoices,
  buildCreateVmBody,
  EMPTY_SANDBOX_FORM,
  parseKeyValues,
} from "./sandbox-form.js";

describe("create-sandbox form", () => {
  it("sends an empty body when nothing is filled in (server defaults)", () => {
    expect(buildCreateVmBody(EMPTY_SANDBOX_FORM)).toEqual({ ok: true, body: {} });
  });
  it("turns the fields into the POST /vms body", () => {
    const r = buildCreateVmBody({
      ...EMPTY_SANDBOX_FORM,
      name: "demo",
      image: "aetherium/base",
      backend: "docker",
      vcpus: "2",
      memoryMb: "1024",
      env: "A=1\n# comment\nURL=http://x/?a=b\n",
      labels: "team=ml, env=dev",
      timeoutMin: "30",
    });
    expect(r).toEqual({
      ok: true,
      body: {
        name: "demo",
        image: "aetherium/base",
        backend: "docker",
        vcpus: 2,
        memoryMb: 1024,
        env: { A: "1", URL: "http://x/?a=b" },
        labels: { team: "ml", env: "dev" },
        timeoutSec: 1800,
      },
    });
  });
  it("sends the network policy: a plain one, or an allow-list checked entry by entry", () => {
    expect(buildCreateVmBody({ ...EMPTY_SANDBOX_FORM, egress: "deny-all" })).toEqual({
      ok: true,
      body: { network: { egress: "deny-all" } },
    });
    expect(
      buildCreateVmBody({
        ...EMPTY_SANDBOX_FORM,
        egress: "allow-list",
        allow: "registry.npmjs.org, *.github.com\n10.0.0.0/8",
      }),
    ).toEqual({
      ok: true,
      body: {
        network: { egress: { allow: ["registry.npmjs.org", "*.github.com", "10.0.0.0/8"] } },
      },
    });
    const empty = buildCreateVmBody({ ...EMPTY_SANDBOX_FORM, egress: "allow-list", allow: " " });
    expect(empty.ok ? null : empty.errors.allow).toMatch(/at least one destination/);
    const bad = buildCreateVmBody({
      ...EMPTY_SANDBOX_FORM,
      egress: "allow-list",
      allow: "not a host!",
    });
    expect(bad.ok ? null : bad.errors.allow).toMatch(/must be a domain/);
  });
  it("names the field that is wrong", () => {
    const r = buildCreateVmBody({
      ...EMPTY_SANDBOX_FORM,
      vcpus: "two",
      env: "NOPE",
      memoryMb: "1",
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.vcpus).toBe("a whole number");
      expect(r.errors.env).toContain("NOPE");
    }
    const bounds = buildCreateVmBody({ ...EMPTY_SANDBOX_FORM, memoryMb: "64" });
    expect(bounds.ok).toBe(false);
    if (!bounds.ok) expect(bounds.errors.memoryMb).toMatch(/128/);
  });
  it("parses KEY=value lists", () => {
    expect(parseKeyValues("a=1,b=2", { commaSeparated: true })).toEqual({
      values: { a: "1", b: "2" },
    });
    expect(parseKeyValues("=x")).toEqual({ error: '"=x" is not KEY=value' });
  });
});

describe("backend choices", () => {
  const offer = (offered: ("docker" | "firecracker" | "qemu")[], configured = "auto") => ({
    backends: (["docker", "firecracker", "qemu"] as const).map((backend) => ({
      backend,
      offered: offered.includes(backend),
      workers: offered.includes(backend) ? 1 : 0,
    })),
    configured: configured as "auto",
    default: offered[0] ?? "docker",
  });

  it("offers auto plus only the backends the fleet offers", () => {
    const { choices, note } = backendChoices(offer(["qemu"]));
    expect(choices).toEqual([
      { value: "", label: "auto (default)" },
      { value: "qemu", label: "qemu" },
    ]);
    expect(note).toBe("auto picks qemu now");
    expect(backendChoices(offer(["docker", "qemu"])).choices.map((c) => c.value)).toEqual([
      "",
      "docker",
      "qemu",
    ]);
  });

  it("offers only auto, and says so, when no worker offers a backend", () => {
    const { choices, note } = backendChoices(offer([]));
    expect(choices).toEqual([{ value: "", label: "auto (default)" }]);
    expect(note).toMatch(/No worker offers a backend now/);
  });

  it("offers only auto, without a note, before the offer is known", () => {
    expect(backendChoices(undefined)).toEqual({
      choices: [{ value: "", label: "auto (default)" }],
      note: undefined,
    });
  });

  it("names a configured default that is not auto", () => {
    expect(backendChoices(offer(["docker"], "docker")).note).toBe("the server's default is docker");
  });
});
