import type { VmBackend } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { useCliTestGateway } from "../testing/cli-test-gateway.js";

// A real gateway on a real runtime; its workers are registered rows, so sandboxes stay pending.
const gw = useCliTestGateway("backend", { rateLimit: { max: 300, timeWindowMs: 60_000 } });
const aether = gw.aether;

const worker = (id: string, backends: VmBackend[]) =>
  gw.runtime.repos.workers.register({
    id,
    hostname: "h",
    address: "http://127.0.0.1:1",
    backends,
    capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
  });

describe("aether vm create --backend", () => {
  it("with no active worker refuses any --backend as a usage error, and sends nothing", async () => {
    const r = await aether(["vm", "create", "--name", "nobody-gw.home", "--backend", "docker"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^aether: --backend "docker": no active worker offers a backend now/);
    expect(await gw.runtime.repos.vms.getByName("nobody-gw.home")).toBeFalsy();
  });

  it("refuses a backend the fleet does not offer, naming the ones it does (exit 2)", async () => {
    await worker("w-qemu", ["qemu"]);
    for (const backend of ["docker", "firecracker", "kvm"]) {
      const r = await aether(["vm", "create", "--name", `not-${backend}`, "--backend", backend]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(`aether: --backend "${backend}": the fleet offers qemu (`);
      expect(await gw.runtime.repos.vms.getByName(`not-${backend}`)).toBeFalsy();
    }
    const json = await aether(["--json", "vm", "create", "--backend", "docker"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: {
        code: "usage",
        message: expect.stringMatching(/^--backend "docker": the fleet offers qemu/),
      },
    });
  });

  it("creates on a backend the fleet offers", async () => {
    const r = await aether(["vm", "create", "--name", "on-qemu", "--backend", "qemu", "--no-wait"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sandbox on-qemu is pending/);
    const row = await gw.runtime.repos.vms.getByName("on-qemu");
    expect(row?.backend).toBe("qemu");
    expect((await aether(["vm", "rm", "on-qemu"])).code).toBe(0);
  });

  it("does not promise backends in its help", async () => {
    const help = (await aether(["vm", "create", "--help"])).stdout;
    expect(help).toMatch(/--backend <backend>\s+a backend the active workers offer/);
    expect(help).not.toMatch(/firecracker|qemu/);
  });
});
