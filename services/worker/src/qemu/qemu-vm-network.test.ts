import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { lookup } from "node:dns/promises";
import { access, constants, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createLogger, loadConfig } from "@aetherium/common";
import {
  createRepositories,
  Migrator,
  openDatabase,
  type DatabaseHandle,
  type Repositories,
} from "@aetherium/core";
import { useTestDatabase } from "@aetherium/testing";
import type { EgressPolicy } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../agent-client/agent-client.js";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import type { SandboxBackend } from "../backends/sandbox-backend.js";
import { buildAgentBundle } from "../image/build-agent.js";
import { restrictBridgeToProxy, unrestrictBridge } from "../network/host-firewall.js";
import { buildVmImage } from "../vm-image/build-vm-image.js";
import { tapNameFor } from "../vm-network/network-attachment.js";
import { removeUnbridgedTapDrop } from "../vm-network/vm-firewall.js";
import { VmNetwork } from "../vm-network/vm-network.js";
import { openQemuBackend } from "./open-qemu-backend.js";
import type { QemuBackend } from "./qemu-backend.js";

// The QEMU backend as a worker opens it, on a VM network of its own (bridge, subnet and proxy
// port of this run only): VMs get the network their egress policy asks for, and lose it (TAP
// and address lease) when they go. The only traffic is to an HTTP server on the bridge address.
const run = promisify(execFile);
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
// Under TCG on a shared 2-core machine, three VMs booting at once take tens of seconds.
const BOOT_MS = 150_000;
const ok = (file: string, args: string[]) =>
  run(file, args).then(
    () => true,
    () => false,
  );
const canUse = (file: string, mode = constants.X_OK) =>
  access(file, mode).then(
    () => true,
    () => false,
  );
const missing = [
  ...((await canUse("/usr/bin/qemu-system-x86_64")) ? [] : ["qemu-system-x86_64"]),
  ...((await canUse("/usr/sbin/debootstrap")) ? [] : ["debootstrap"]),
  ...((await canUse("/dev/net/tun", constants.R_OK | constants.W_OK)) ? [] : ["/dev/net/tun"]),
  ...((await ok("iptables", ["-w", "5", "-n", "-L", "INPUT"])) ? [] : ["iptables"]),
  ...((await ok("ebtables", ["-L", "INPUT"])) ? [] : ["ebtables"]),
  ...(process.getuid?.() === 0 ? [] : ["root"]),
];
if (missing.length > 0) {
  console.warn(`skipping QEMU VM network tests: missing ${missing.join(", ")}`);
}

const pgDb = useTestDatabase();

const tag = randomBytes(2).toString("hex");
const bridge = `aeqt${tag}`;
const octet = randomInt(0, 250);
const subnet = `10.217.${octet}.0/24`;
const gateway = `10.217.${octet}.1`;
const proxyPort = randomInt(30_000, 40_000);
const workerId = `qnet-${tag}`;

async function shell(client: AgentClient, command: string) {
  let stdout = "";
  const result = await client.exec(
    { shell: command },
    { onStdout: (d) => void (stdout += d.toString()) },
  );
  return { exitCode: result.exitCode, stdout };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const linkExists = (name: string) => ok("ip", ["link", "show", "dev", name]);

/** The names an /etc/hosts file lists. */
function hostsNames(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim().split(/\s+/).slice(1))
    .flat()
    .filter(Boolean);
}

describe.skipIf(missing.length > 0)("QEMU backend on the VM network", () => {
  let handle: DatabaseHandle;
  let repos: Repositories;
  let home: string;
  let backend: QemuBackend;
  let server: http.Server;
  let serverPort = 0;
  const savedAccel = process.env.AETHERIUM_QEMU_ACCEL;

  beforeAll(async () => {
    handle = await openDatabase({ url: pgDb.current.url });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    const agent = await buildAgentBundle();
    await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    // A home of its own whose image cache is the shared one.
    home = await mkdtemp(path.join(os.tmpdir(), "aeth-qemu-vmnet-"));
    await mkdir(path.join(home, "cache"));
    await symlink(CACHE_DIR, path.join(home, "cache", "image"));
    // TCG explicitly: this machine's /dev/kvm does not run guests, and CI hosts may lack it.
    process.env.AETHERIUM_QEMU_ACCEL = "tcg";
    const opened = await openQemuBackend({
      probe: { backend: "qemu", available: true, detail: "qemu-system-x86_64" },
      config: loadConfig({
        env: {
          AETHERIUM_HOME: home,
          AETHERIUM_SANDBOX__VM_NETWORK__BRIDGE: bridge,
          AETHERIUM_SANDBOX__VM_NETWORK__SUBNET: subnet,
          AETHERIUM_SANDBOX__EGRESS_PROXY_PORT: String(proxyPort),
        },
      }),
      image: "unused",
      logger: createLogger({ service: "test", level: "silent", format: "json" }),
      repos,
      workerId,
    });
    if (!opened.ready) throw new Error(`the QEMU backend is not ready: ${opened.detail}`);
    expect(opened.detail).toContain(`VM bridge ${bridge} (${subnet})`);
    backend = opened.backend as QemuBackend;
    // A test service on the bridge address, opened to the VMs like the egress proxy's port.
    server = http.createServer((_req, res) => res.end("bridge-ok"));
    await new Promise<void>((resolve) => server.listen(0, gateway, resolve));
    serverPort = (server.address() as AddressInfo).port;
    await restrictBridgeToProxy(bridge, serverPort);
  }, 600_000);

  afterAll(async () => {
    for (const s of (await backend?.list().catch(() => [])) ?? []) {
      await backend.remove(s.sandboxId).catch(() => {});
    }
    await backend?.close();
    if (savedAccel === undefined) delete process.env.AETHERIUM_QEMU_ACCEL;
    else process.env.AETHERIUM_QEMU_ACCEL = savedAccel;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (repos !== undefined) {
      // The network the opener made: its leftovers released, then the bridge and its rules.
      const network = new VmNetwork({
        bridge,
        subnet,
        leases: repos.vmNetworkLeases,
        workerId,
        proxyPort,
      });
      await network.ready().catch(() => {});
      await network.reconcile([]).catch(() => {});
      await unrestrictBridge(bridge, serverPort).catch(() => {});
      await network.remove().catch(() => {});
      // Shared by every VM bridge: removed only when no other VM TAP is on the host.
      const links = (await run("ip", ["-o", "link", "show"])).stdout;
      if (!/: aev[0-9a-f]{12}[@:]/.test(links)) await removeUnbridgedTapDrop();
    }
    if (home !== undefined) await rm(home, { recursive: true, force: true });
    await handle?.close();
  }, 180_000);

  it(
    "an allow-all VM reaches the bridge address, a deny-all one does not, an allow-list one gets its proxy; removing a VM releases its TAP and lease",
    async () => {
      const vms: { id: string; egress: EgressPolicy }[] = [
        { id: `qa-${tag}`, egress: "allow-all" },
        { id: `qd-${tag}`, egress: "deny-all" },
        { id: `ql-${tag}`, egress: { allow: ["example.test"] } },
      ];
      const sandbox = backend as SandboxBackend;
      for (const vm of vms) {
        await sandbox.create({
          sandboxId: vm.id,
          workerId,
          vcpus: 1,
          memoryMb: 384,
          egress: vm.egress,
        });
      }
      await Promise.all(vms.map((vm) => sandbox.start(vm.id)));
      const [allowAll, denyAll, allowList] = vms.map((vm) => vm.id) as [string, string, string];
      for (const id of [allowAll, denyAll, allowList]) {
        expect(await linkExists(tapNameFor(bridge, id))).toBe(true);
        expect(await repos.vmNetworkLeases.get(subnet, id)).toMatchObject({ sandboxId: id });
      }
      const clients = await Promise.all(
        vms.map(async (vm) =>
          waitForAgent(backend.agentSocketPath(vm.id), BOOT_MS, {
            token: await backend.agentToken(vm.id),
            handshake: backend.agentHandshake,
          }),
        ),
      );
      const [a, d, l] = clients as [AgentClient, AgentClient, AgentClient];
      const url = `http://${gateway}:${serverPort}/`;
      const curl = `curl -sS --noproxy '*' --max-time 8 ${url}`;
      try {
        const lease = await repos.vmNetworkLeases.get(subnet, allowAll);
        expect((await shell(a, "cat /proc/net/fib_trie")).stdout).toContain(lease?.ip);
        expect(await shell(a, curl)).toEqual({ exitCode: 0, stdout: "bridge-ok" });
        const denied = await shell(d, curl);
        expect(denied.exitCode).not.toBe(0);
        expect(denied.stdout).toBe("");
        const proxy = `http://${gateway}:${proxyPort}`;
        expect((await shell(l, 'printf "%s|%s" "$HTTPS_PROXY" "$http_proxy"')).stdout).toBe(
          `${proxy}|${proxy}`,
        );
        expect((await shell(a, 'printf "%s" "$HTTPS_PROXY"')).stdout).toBe("");

        // Names: the allow-all guest's resolver is the bridge address, which answers as the host
        // resolves. Asked: a name of the host's /etc/hosts the guest's own does not list, so the
        // answer can only have come through the resolver, and no name goes off this host.
        expect((await shell(a, "cat /etc/resolv.conf")).stdout).toContain(`nameserver ${gateway}`);
        const guestHosts = hostsNames((await shell(a, "cat /etc/hosts")).stdout);
        const name = hostsNames(await readFile("/etc/hosts", "utf8")).find(
          (n) => n !== "localhost" && !guestHosts.includes(n),
        );
        if (name === undefined) {
          console.warn(
            "no name in /etc/hosts beyond the guest's: the resolver's answer is not checked",
          );
        } else {
          const [expected] = (await lookup(name, { all: true, family: 4 })).map((r) => r.address);
          const resolved = await shell(a, `getent ahostsv4 ${name} | head -1`);
          expect(resolved.exitCode).toBe(0);
          expect(resolved.stdout.split(/\s+/)[0]).toBe(expected);
          // An allow-list guest resolves nothing itself: its proxy does, for allowed names only.
          expect((await shell(l, `getent hosts ${name}`)).exitCode).not.toBe(0);
        }
      } finally {
        for (const client of clients) client.close();
      }

      // Delete: its TAP and its address go with the VM.
      await sandbox.remove(allowAll);
      expect(await linkExists(tapNameFor(bridge, allowAll))).toBe(false);
      expect(await repos.vmNetworkLeases.get(subnet, allowAll)).toBeUndefined();

      // A VM that vanished behind the backend's back: the next list (reconcile) releases both.
      const pid = Number(
        (await readFile(path.join(backend.runDir(denyAll), "qemu.pid"), "utf8")).trim(),
      );
      process.kill(pid, "SIGKILL");
      for (let i = 0; i < 50 && alive(pid); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await rm(backend.runDir(denyAll), { recursive: true, force: true });
      expect((await sandbox.list({ workerId })).map((s) => s.sandboxId)).toEqual([allowList]);
      expect(await linkExists(tapNameFor(bridge, denyAll))).toBe(false);
      expect(await repos.vmNetworkLeases.get(subnet, denyAll)).toBeUndefined();
      expect(await linkExists(tapNameFor(bridge, allowList))).toBe(true);

      await sandbox.remove(allowList);
      expect(await linkExists(tapNameFor(bridge, allowList))).toBe(false);
      expect(await repos.vmNetworkLeases.get(subnet, allowList)).toBeUndefined();
    },
    2 * BOOT_MS,
  );
});
