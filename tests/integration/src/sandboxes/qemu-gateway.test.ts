import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { access, constants, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createLogger } from "@aetherium/common";
import { DataPlaneClient } from "@aetherium/core";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import {
  buildAgentBundle,
  buildVmImage,
  QemuBackend,
  removeUnbridgedTapDrop,
  VmNetwork,
  type VmImage,
} from "@aetherium/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// `POST /vms {"backend": "qemu"}` through the real gateway to a real worker that advertises
// qemu, then exec and delete through the API: a QEMU microVM under TCG, with the real agent.
const repo = path.resolve(import.meta.dirname, "../../../..");
const CACHE_DIR = path.join(repo, ".aetherium/cache/image");
const here = await dockerSandboxesHere();
const qemu = await access("/usr/bin/qemu-system-x86_64", constants.X_OK).then(
  () => true,
  () => false,
);
const canRun = here.ok && qemu;
if (!canRun) {
  console.warn(
    `skipping QEMU through the gateway: ${qemu ? here.detail : "qemu-system-x86_64 not found (qemu-system-x86)"}`,
  );
}

describe.skipIf(!canRun)("QEMU sandboxes through the gateway", () => {
  const workerId = `qgw-${randomBytes(4).toString("hex")}`;
  // A VM network of this run only (the worker puts every VM on one), removed at the end.
  const vmNetwork = {
    bridge: `aeqg${randomBytes(2).toString("hex")}`,
    subnet: `10.218.${randomInt(0, 250)}.0/24`,
    proxyPort: randomInt(40_000, 50_000),
  };
  const logger = createLogger({ service: "qemu-gw-test", level: "silent", format: "json" });
  const client = new DataPlaneClient({ timeoutMs: 120_000 });
  let home: string;
  let image: VmImage;
  let fixture: TestWorker;
  let app: Awaited<ReturnType<typeof buildServer>>;
  let admin: string;
  let url: string;

  interface Answer {
    vm: { id: string; status: string };
    backends: { backend: string; offered: boolean }[];
    execution: { exitCode: number; stdout: string };
  }
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${admin}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer };
  };

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    // The worker looks for its images in <home>/cache/image: point that at the shared cache.
    home = await mkdtemp(path.join(tmpdir(), "aet-qemu-gw-"));
    await mkdir(path.join(home, "cache"));
    await symlink(CACHE_DIR, path.join(home, "cache", "image"));
    fixture = await startTestWorker(
      "qemu-gw",
      {
        AETHERIUM_HOME: home,
        AETHERIUM_WORKER_ID: workerId,
        AETHERIUM_SANDBOX__VM_NETWORK__BRIDGE: vmNetwork.bridge,
        AETHERIUM_SANDBOX__VM_NETWORK__SUBNET: vmNetwork.subnet,
        AETHERIUM_SANDBOX__EGRESS_PROXY_PORT: String(vmNetwork.proxyPort),
      },
      { internalHost: "127.0.0.1" },
    );
    admin = (await ensureBootstrapKey(fixture.runtime.repos, { home })).secret;
    app = await buildServer({
      logger,
      runtime: fixture.runtime,
      dataPlane: client,
      health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
      maxUploadBytes: fixture.config.server.maxUploadMb * 1024 * 1024,
      waitTimeoutMs: 180_000,
    });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  }, 600_000);

  afterAll(async () => {
    await app?.close();
    client.close();
    const backend = new QemuBackend({ stateDir: path.join(home, "qemu"), image });
    for (const s of await backend.list().catch(() => [])) await backend.remove(s.sandboxId);
    if (fixture !== undefined) {
      const network = new VmNetwork({
        ...vmNetwork,
        leases: fixture.runtime.repos.vmNetworkLeases,
        workerId,
      });
      // Leftover leases go while the database is open; the bridge once the worker is gone.
      await network.ready().catch(() => {});
      await network.reconcile([]).catch(() => {});
      await fixture.close();
      await network.remove().catch(() => {});
      // Shared by every VM bridge: removed only when no other VM TAP is on the host.
      const links = (await promisify(execFile)("ip", ["-o", "link", "show"])).stdout;
      if (!/: aev[0-9a-f]{12}[@:]/.test(links)) await removeUnbridgedTapDrop();
    }
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  }, 120_000);

  it("the worker advertises qemu, and a create naming it boots a microVM that runs commands", async () => {
    expect(fixture.sandboxes.backends).toContain("qemu");
    const backends = await api("GET", "/backends");
    expect(backends.body.backends).toContainEqual(
      expect.objectContaining({ backend: "qemu", offered: true }),
    );

    const made = await api("POST", "/vms?wait=true", {
      name: "micro",
      backend: "qemu",
      memoryMb: 512,
      env: { GREETING: "it's from the api" },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body.vm).toMatchObject({ backend: "qemu", status: "running", workerId });
    const id = made.body.vm.id;

    const uname = await api("POST", `/vms/${id}/execute`, { command: "uname -r; echo $GREETING" });
    expect(uname.status).toBe(200);
    expect(uname.body.execution).toMatchObject({
      exitCode: 0,
      stdout: `${image.kernelRelease}\nit's from the api\n`,
    });
    const stdin = await api("POST", `/vms/${id}/execute`, { command: "wc -c", stdin: "12345" });
    expect(stdin.body.execution.stdout.trim()).toBe("5");

    expect((await api("DELETE", `/vms/${id}?wait=true`)).status).toBe(204);
    expect((await api("GET", `/vms/${id}`)).body.vm.status).toBe("deleted");
    await expect(access(path.join(home, "qemu", id))).rejects.toThrow();
  }, 300_000);
});
