import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, constants, mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import { buildAgentBundle } from "../image/build-agent.js";
import { buildVmImage } from "../vm-image/build-vm-image.js";
import { QemuBackend } from "./qemu-backend.js";

// The network seam of the QEMU backend (what `vm-network/` plugs into in the opener): a TAP
// device and an address given by `attachNetwork` reach the guest as a virtio-net interface
// configured from `ip=…` on the kernel command line. The test makes its own TAP on a subnet no
// route uses and talks only to an HTTP server it starts on the TAP's host address.
const run = promisify(execFile);
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
const BOOT_MS = 120_000;
const ok = (file: string, mode = constants.X_OK) =>
  access(file, mode).then(
    () => true,
    () => false,
  );
const missing = [
  ...((await ok("/usr/bin/qemu-system-x86_64")) ? [] : ["qemu-system-x86_64"]),
  ...((await ok("/usr/sbin/debootstrap")) ? [] : ["debootstrap"]),
  ...((await ok("/usr/sbin/ip")) ? [] : ["ip (iproute2)"]),
  ...((await ok("/dev/net/tun", constants.R_OK | constants.W_OK)) ? [] : ["/dev/net/tun"]),
  ...(process.getuid?.() === 0 ? [] : ["root"]),
];
if (missing.length > 0) console.warn(`skipping QEMU network tests: missing ${missing.join(", ")}`);

describe.skipIf(missing.length > 0)("QEMU backend network attachment", () => {
  const tap = `aqt${randomBytes(3).toString("hex")}`;
  let subnet = "";
  let stateDir: string;
  let backend: QemuBackend;
  let server: http.Server;
  let port = 0;

  beforeAll(async () => {
    const routes = (await run("ip", ["-4", "route"])).stdout;
    for (let i = 0; i < 50 && subnet === ""; i++) {
      const candidate = `10.249.${Math.floor(Math.random() * 256)}`;
      if (!routes.includes(`${candidate}.`)) subnet = candidate;
    }
    if (subnet === "") throw new Error("no free 10.249.x.0/24 subnet for the test TAP");
    await run("ip", ["tuntap", "add", "dev", tap, "mode", "tap"]);
    await run("ip", ["addr", "add", `${subnet}.1/24`, "dev", tap]);
    await run("ip", ["link", "set", tap, "up"]);
    server = http.createServer((_req, res) => res.end("hello from the host"));
    await new Promise<void>((resolve) => server.listen(0, `${subnet}.1`, resolve));
    port = (server.address() as { port: number }).port;
    const agent = await buildAgentBundle();
    const image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    stateDir = await mkdtemp(path.join(os.tmpdir(), "aeth-qemu-net-"));
    backend = new QemuBackend({
      stateDir,
      image,
      accel: "tcg",
      attachNetwork: () =>
        Promise.resolve({
          tap,
          mac: "52:54:00:a1:b2:c3",
          address: `${subnet}.2`,
          prefixLength: 24,
          gateway: `${subnet}.1`,
        }),
    });
  }, 600_000);

  afterAll(async () => {
    for (const s of (await backend?.list()) ?? []) await backend.remove(s.sandboxId);
    if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
    await new Promise((resolve) => server?.close(resolve));
    await run("ip", ["link", "del", tap]).catch(() => undefined);
  });

  it(
    "gives the guest the attached interface and address, and it reaches the host side",
    async () => {
      const id = `net-${randomBytes(4).toString("hex")}`;
      await backend.create({ sandboxId: id, workerId: "net-test", vcpus: 1, memoryMb: 512 });
      await backend.start(id);
      const client = await waitForAgent(backend.agentSocketPath(id), BOOT_MS, {
        token: await backend.agentToken(id),
        handshake: backend.agentHandshake,
      });
      try {
        let out = "";
        const result = await client.exec(
          {
            shell: `cat /sys/class/net/eth0/address; grep -q "${subnet}.2" /proc/net/fib_trie && echo has-address; curl -sS --max-time 20 http://${subnet}.1:${port}/`,
          },
          {
            onStdout: (d) => void (out += d.toString()),
            onStderr: (d) => void (out += d.toString()),
          },
        );
        expect(out).toBe(`52:54:00:a1:b2:c3\nhas-address\nhello from the host`);
        expect(result.exitCode).toBe(0);
      } finally {
        client.close();
      }
      await backend.remove(id);
    },
    2 * BOOT_MS,
  );
});
