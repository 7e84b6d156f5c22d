import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import {
  openDatabase,
  type DatabaseHandle,
  Migrator,
  createRepositories,
  type Repositories,
} from "@aetherium/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerBackend } from "../docker/docker-backend.js";
import {
  dockerTestHost,
  ensureSandboxTestImage,
  SANDBOX_TEST_IMAGE,
} from "../testing/sandbox-test-image.js";
import { SandboxManager } from "./sandbox-manager.js";

/*
 * `sudo` for the sandbox user `user` in a Docker sandbox (issue #15), and the bounds of the root
 * it reaches: real dockerd, the real base image, commands through the worker's exec as `user`.
 */

const TAG = SANDBOX_TEST_IMAGE;
const host = await dockerTestHost({ needsDebootstrap: true });
const canRun = host.ok;
if (!canRun) console.warn(`skipping sandbox sudo tests: ${host.detail}`);

// The container's bounding set, SANDBOX_CAP_ADD as bits: CHOWN 0, DAC_OVERRIDE 1, FOWNER 3,
// FSETID 4, KILL 5, SETGID 6, SETUID 7, NET_BIND_SERVICE 10.
const BOUNDED = [0, 1, 3, 4, 5, 6, 7, 10].reduce((m, b) => m | (1n << BigInt(b)), 0n);

/** A capability mask line of `/proc/<pid>/status` (CapEff, CapBnd…) as a number. */
function capField(status: string, field: string): bigint {
  const hex = new RegExp(`^${field}:\\s+([0-9a-f]+)$`, "m").exec(status)?.[1];
  if (hex === undefined) throw new Error(`no ${field} in:\n${status}`);
  return BigInt(`0x${hex}`);
}

describe.skipIf(!canRun)("sudo for the sandbox user in a Docker sandbox (real dockerd)", () => {
  const workerId = `test-sudo-${randomBytes(4).toString("hex")}`;
  let socketRoot: string;
  let handle: DatabaseHandle;
  let backend: DockerBackend;
  let worker: SandboxManager;
  let repos: Repositories;
  let sandboxId: string;

  const asUser = (command: string) => worker.exec(sandboxId, { command, user: "user" });
  const asRoot = (command: string) => worker.exec(sandboxId, { command, user: "root" });

  beforeAll(async () => {
    await ensureSandboxTestImage();
    socketRoot = await mkdtemp(path.join(tmpdir(), "aeth-sudo-"));
    handle = await openDatabase({ pglite: "memory://" });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    await repos.workers.register({ id: workerId, hostname: "test", address: "http://127.0.0.1:1" });
    backend = new DockerBackend({ socketRoot, defaultImage: TAG });
    worker = new SandboxManager({
      backend,
      repos,
      bus: new InMemoryEventBus(),
      workerId,
      logger: createLogger({ service: "test", level: "warn", format: "json" }),
      agentReadyTimeoutMs: 30_000,
    });
    const row = await repos.vms.create({
      name: "sudo",
      backend: "docker",
      image: TAG,
      vcpus: 1,
      memoryMb: 256,
      network: { egress: "deny-all" },
    });
    await worker.create(row.id);
    sandboxId = row.id;
  }, 600_000);

  afterAll(async () => {
    await worker?.close();
    if (backend !== undefined) {
      for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
      await backend.close();
    }
    await handle?.close();
    if (socketRoot !== undefined) await rm(socketRoot, { recursive: true, force: true });
  }, 120_000);

  it("lets `user` run `sudo -n` without a password, as E2B's image does", async () => {
    const me = await asUser("id -un; sudo -n true && echo ok; sudo -n whoami");
    // Nothing on stderr but sudo's note that it could not write to the kernel's audit log:
    // AUDIT_WRITE is left out of the container's capabilities on purpose (container-spec.ts).
    // It resolves its host without a warning even with no network (deny-all).
    expect(
      me.stderr.replaceAll("sudo: unable to send audit message: Operation not permitted\n", ""),
    ).toBe("");
    expect(me.stdout).toBe("user\nok\nroot\n");
    expect(me.exitCode).toBe(0);
    // E2B's own SDK test: an env var scoped to one command, through sudo.
    const env = await asUser("FOO=bar sudo -n --preserve-env=FOO sh -c 'echo $FOO'");
    expect(env.stdout).toBe("bar\n");
  });

  it("gives a root no stronger than the container's: CapEff and CapBnd are the bounded set", async () => {
    const viaSudo = await asUser("sudo -n cat /proc/self/status");
    expect(viaSudo.exitCode).toBe(0);
    expect(viaSudo.stdout).toMatch(/^Uid:\s+0\s+0\s+0\s+0$/m);
    expect(capField(viaSudo.stdout, "CapEff")).toBe(BOUNDED);
    expect(capField(viaSudo.stdout, "CapBnd")).toBe(BOUNDED);
    // Seccomp stays on (2 = filter): Docker's default profile, not unconfined.
    expect(viaSudo.stdout).toMatch(/^Seccomp:\s+2$/m);
    // The same as the root the API gives.
    const direct = await asRoot("cat /proc/self/status");
    expect(capField(direct.stdout, "CapEff")).toBe(BOUNDED);
    // What the bounded set leaves out stays out: mounting needs SYS_ADMIN.
    const mount = await asUser("sudo -n mount -t tmpfs none /mnt");
    expect(mount.exitCode).not.toBe(0);
    expect(mount.stderr).toMatch(/permission denied|must be superuser/i);
  });

  it("a setuid-root binary reaches the bounded set and no more; file capabilities cannot be set", async () => {
    // A setuid copy of cat, made by root: run by `user`, it reports its own capabilities.
    const made = await asRoot(
      "cp /bin/cat /usr/local/bin/suid-cat && chmod 4755 /usr/local/bin/suid-cat && echo made",
    );
    expect(made.stdout).toBe("made\n");
    const suid = await asUser("/usr/local/bin/suid-cat /proc/self/status");
    expect(suid.exitCode).toBe(0);
    expect(suid.stdout).toMatch(/^Uid:\s+1000\s+0\s+0\s+0$/m);
    expect(capField(suid.stdout, "CapEff")).toBe(BOUNDED);
    expect(capField(suid.stdout, "CapBnd")).toBe(BOUNDED);
    // File capabilities would be the other way up: writing them needs SETFCAP, which root here
    // does not have, whether reached through sudo or the API.
    const setfcap = await asUser(
      `sudo -n python3 -c "import os; os.setxattr('/usr/local/bin/suid-cat', 'security.capability', bytes.fromhex('0100000200002000000000000000000000000000'))"`,
    );
    expect(setfcap.exitCode).not.toBe(0);
    expect(setfcap.stderr).toMatch(/PermissionError|Operation not permitted/);
  });
});
