/**
 * `aetherium cluster up|down|status`: a two-gateway, two-worker Aetherium on this host's Docker
 * engine, from the service images, driven through the engine's API (dockerode).
 * @module
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { AETHERIUM_VERSION } from "@aetherium/types";
import {
  CLUSTER_LABEL,
  DEFAULT_CLUSTER_PORT,
  clusterPlan,
  clusterPorts,
  clusterVolumes,
  clusterWorkerIds,
  type ClusterRunOptions,
  type ClusterSettings,
  type ContainerPlan,
} from "./cluster-plan.js";

const run = promisify(execFile);

/** Label the Docker backend puts on each sandbox container: the worker that owns it. */
const SANDBOX_WORKER_LABEL = "aetherium.worker-id";

/** Where a cluster keeps its settings (keys, passwords): `<home>/clusters/<name>`. */
export function clusterStateDir(home: string, name: string): string {
  return path.resolve(home, "clusters", name);
}

/** The host directory of a cluster's sandbox run directories (short: socket paths are bounded). */
export function clusterRunDir(name: string): string {
  return `/run/aetherium/clusters/${name}`;
}

/**
 * The settings of cluster `name`: read from its state directory, or generated and written there
 * (mode 0600) on first use. `port` and `apiKey`, when given, replace what was kept.
 */
export async function loadClusterSettings(
  home: string,
  name: string,
  overrides: { port?: number; apiKey?: string },
): Promise<ClusterSettings> {
  const dir = clusterStateDir(home, name);
  const file = path.join(dir, "cluster.json");
  const kept = await readFile(file, "utf8").then(
    (text) => JSON.parse(text) as ClusterSettings,
    () => undefined,
  );
  const secret = () => randomBytes(24).toString("base64url");
  const settings: ClusterSettings = {
    name,
    port: overrides.port ?? kept?.port ?? DEFAULT_CLUSTER_PORT,
    version: AETHERIUM_VERSION,
    apiKey: overrides.apiKey ?? kept?.apiKey ?? `ak_${randomBytes(32).toString("base64url")}`,
    encryptionKey: kept?.encryptionKey ?? randomBytes(32).toString("base64"),
    postgresPassword: kept?.postgresPassword ?? secret(),
    redisPassword: kept?.redisPassword ?? secret(),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, "admin.key"), `${settings.apiKey}\n`, { mode: 0o600 });
  return settings;
}

async function isMountPoint(dir: string): Promise<boolean> {
  const [self, parent] = await Promise.all([stat(dir), stat(path.dirname(dir))]);
  return self.dev !== parent.dev || (await mountedAt(dir));
}

async function mountedAt(dir: string): Promise<boolean> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  return info.split("\n").some((line) => line.split(" ")[4] === dir);
}

/**
 * Makes `dir` a mount of its own with shared propagation, so the tmpfs a worker container mounts
 * under it (each sandbox's run directory) is the one the host's engine binds into the sandbox.
 */
async function ensureSharedRunDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  if (!(await isMountPoint(dir))) await run("mount", ["--bind", dir, dir]);
  await run("mount", ["--make-shared", dir]);
}

async function removeRunDir(dir: string): Promise<void> {
  for (let i = 0; i < 4 && (await mountedAt(dir).catch(() => false)); i++) {
    await run("umount", ["-R", "-l", dir]).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
}

/** What {@link clusterUp} reports while it works. */
export type ClusterPrint = (line: string) => void;

/** Options for {@link clusterUp}. */
export interface ClusterUpOptions extends Partial<
  Pick<ClusterRunOptions, "heartbeatMs" | "offlineAfterMs" | "workerVcpus">
> {
  readonly settings: ClusterSettings;
  readonly sandboxImage: string;
  readonly docker?: Docker;
  readonly print: ClusterPrint;
  /** How long to wait for the cluster to answer; default 180 s. */
  readonly timeoutMs?: number;
}

/** A running cluster. */
export interface ClusterInfo {
  /** The load balancer's URL. */
  readonly url: string;
  readonly apiKey: string;
  readonly workerIds: readonly string[];
}

function engine(docker?: Docker): Docker {
  return docker ?? new Docker({ socketPath: "/var/run/docker.sock" });
}

async function startContainer(docker: Docker, c: ContainerPlan, cluster: string) {
  const existing = docker.getContainer(c.name);
  const info = await existing.inspect().catch(() => undefined);
  if (info?.State.Running === true && c.role !== "migrate") return;
  if (info !== undefined) await existing.remove({ force: true });
  const container = await docker.createContainer({
    name: c.name,
    Image: c.image,
    ...(c.cmd ? { Cmd: [...c.cmd] } : {}),
    Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
    Labels: { [CLUSTER_LABEL]: cluster, "aetherium.cluster.role": c.role },
    HostConfig: {
      NetworkMode: "host",
      Binds: [...c.binds],
      ...(c.capAdd.length > 0
        ? {
            CapAdd: [...c.capAdd],
            SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined"],
          }
        : {}),
      Init: true,
      LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } },
    },
  });
  await container.start();
}

async function ensureVolume(docker: Docker, name: string, cluster: string): Promise<void> {
  const found = await docker
    .getVolume(name)
    .inspect()
    .catch(() => undefined);
  if (!found) await docker.createVolume({ Name: name, Labels: { [CLUSTER_LABEL]: cluster } });
}

async function logsOf(docker: Docker, name: string): Promise<string> {
  const buf = (await docker
    .getContainer(name)
    .logs({ stdout: true, stderr: true, tail: 30 })
    .catch(() => Buffer.from(""))) as Buffer;
  // Multiplexed frames: an 8-byte header before each chunk; strip them for reading.
  const out: string[] = [];
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + size).toString());
    i += 8 + size;
  }
  return out.join("").trim();
}

/** Polls `check` every 500 ms until it returns true, or fails after `timeoutMs` with `what`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}

async function running(docker: Docker, name: string): Promise<boolean> {
  const info = await docker
    .getContainer(name)
    .inspect()
    .catch(() => undefined);
  return info?.State.Running === true;
}

/**
 * Starts (or completes) the cluster: volumes, PostgreSQL, Redis, migrations, two workers, two
 * gateways, the load balancer; then waits until the load balancer answers and both workers are
 * active. The images must exist (`aetherium image build --service all` and `image build`).
 */
export async function clusterUp(options: ClusterUpOptions): Promise<ClusterInfo> {
  const { settings: s, print } = options;
  const docker = engine(options.docker);
  const timeoutMs = options.timeoutMs ?? 180_000;
  const runDir = clusterRunDir(s.name);
  const plan = clusterPlan(s, {
    sandboxImage: options.sandboxImage,
    runDir,
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.offlineAfterMs !== undefined ? { offlineAfterMs: options.offlineAfterMs } : {}),
    ...(options.workerVcpus !== undefined ? { workerVcpus: options.workerVcpus } : {}),
  });
  const volumes = clusterVolumes(s.name);
  await ensureVolume(docker, volumes.postgres, s.name);
  await ensureVolume(docker, volumes.redis, s.name);
  await ensureSharedRunDir(runDir);
  const ports = clusterPorts(s.port);
  const byRole = (role: ContainerPlan["role"]) => plan.filter((c) => c.role === role);
  const failIfExited = async (c: ContainerPlan) => {
    if (!(await running(docker, c.name))) {
      throw new Error(`${c.name} exited:\n${await logsOf(docker, c.name)}`);
    }
  };

  for (const c of [...byRole("postgres"), ...byRole("redis")]) {
    print(`[cluster] starting ${c.name}`);
    await startContainer(docker, c, s.name);
  }
  const [pg] = byRole("postgres");
  if (pg) {
    await waitFor("PostgreSQL", timeoutMs, async () => {
      await failIfExited(pg);
      const exec = await docker.getContainer(pg.name).exec({
        Cmd: [
          "sh",
          "-c",
          `"$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)/pg_isready" -q -h 127.0.0.1 -p ${ports.postgres}`,
        ],
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = await exec.start({});
      stream.resume();
      await new Promise((r) => stream.on("end", r));
      return (await exec.inspect()).ExitCode === 0;
    });
    print(`[cluster] PostgreSQL ready on 127.0.0.1:${ports.postgres}`);
  }

  for (const c of byRole("migrate")) {
    print(`[cluster] applying migrations`);
    await startContainer(docker, c, s.name);
    const result = (await docker.getContainer(c.name).wait()) as { StatusCode: number };
    const logs = await logsOf(docker, c.name);
    if (result.StatusCode !== 0) throw new Error(`migrations failed:\n${logs}`);
    for (const line of logs.split("\n").filter((l) => l.trim() !== "")) print(`  ${line}`);
    await docker.getContainer(c.name).remove({ force: true });
  }

  for (const c of [...byRole("worker"), ...byRole("gateway"), ...byRole("lb")]) {
    print(`[cluster] starting ${c.name}`);
    await startContainer(docker, c, s.name);
  }
  for (const c of plan.filter((p) => p.health !== undefined)) {
    await waitFor(`${c.name} (${c.health})`, timeoutMs, async () => {
      await failIfExited(c);
      return (await fetch(c.health!, { signal: AbortSignal.timeout(2000) })).ok;
    });
    print(`[cluster] ${c.name} healthy`);
  }
  const url = `http://127.0.0.1:${ports.lb}`;
  const workerIds = clusterWorkerIds(s.name);
  await waitFor("both workers to be active", timeoutMs, async () => {
    const res = await fetch(`${url}/api/v1/workers?limit=100`, {
      headers: { authorization: `Bearer ${s.apiKey}` },
      signal: AbortSignal.timeout(2000),
    });
    const body = (await res.json()) as { items?: { id: string; status: string }[] };
    const active = (body.items ?? []).filter(
      (w) => workerIds.includes(w.id) && w.status === "active",
    );
    return active.length === workerIds.length;
  });
  print(`[cluster] workers ${workerIds.join(", ")} active`);
  return { url, apiKey: s.apiKey, workerIds };
}

/** Options for {@link clusterDown}. */
export interface ClusterDownOptions {
  readonly name: string;
  /** Also remove the volumes (the database) and the state directory under `home`. */
  readonly purge?: { readonly home: string };
  readonly docker?: Docker;
  readonly print: ClusterPrint;
}

/**
 * Stops and removes the cluster's containers and the sandboxes its workers made, and unmounts
 * its run directory; with `purge`, removes its volumes and state too. Removing what is already
 * gone is fine.
 */
export async function clusterDown(options: ClusterDownOptions): Promise<void> {
  const docker = engine(options.docker);
  const { name, print } = options;
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${CLUSTER_LABEL}=${name}`] },
  });
  // Gateways and the load balancer first, so nothing new reaches the workers while they stop.
  const order = ["lb", "gateway", "worker", "migrate", "redis", "postgres"];
  containers.sort(
    (a, b) =>
      order.indexOf(a.Labels["aetherium.cluster.role"] ?? "") -
      order.indexOf(b.Labels["aetherium.cluster.role"] ?? ""),
  );
  for (const c of containers) {
    const label = c.Names[0]?.replace(/^\//, "") ?? c.Id.slice(0, 12);
    print(`[cluster] removing ${label}`);
    const container = docker.getContainer(c.Id);
    await container.stop({ t: 10 }).catch(() => undefined);
    await container.remove({ force: true }).catch(() => undefined);
  }
  // The engine ANDs label filters: one listing per worker id.
  const ids = new Set<string>();
  for (const workerId of clusterWorkerIds(name)) {
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`${SANDBOX_WORKER_LABEL}=${workerId}`] },
    }))
      ids.add(c.Id);
  }
  if (ids.size > 0) print(`[cluster] removing ${ids.size} sandbox container(s)`);
  for (const id of ids) {
    await docker
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
  await removeRunDir(clusterRunDir(name));
  if (options.purge) {
    const volumes = clusterVolumes(name);
    for (const v of [volumes.postgres, volumes.redis]) {
      await docker
        .getVolume(v)
        .remove()
        .catch(() => undefined);
    }
    await rm(clusterStateDir(options.purge.home, name), { recursive: true, force: true });
    print(`[cluster] removed volumes and state of ${name}`);
  }
}

/** One line per container of the cluster: name, role and state. */
export async function clusterStatus(name: string, docker?: Docker): Promise<string[]> {
  const containers = await engine(docker).listContainers({
    all: true,
    filters: { label: [`${CLUSTER_LABEL}=${name}`] },
  });
  return containers
    .map(
      (c) =>
        `${c.Names[0]?.replace(/^\//, "")}\t${c.Labels["aetherium.cluster.role"]}\t${c.State}\t${c.Status}`,
    )
    .sort();
}
