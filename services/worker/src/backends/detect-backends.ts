import { access, constants } from "node:fs/promises";
import { request } from "node:http";
import path from "node:path";

/** A sandbox backend this machine could run, or why it cannot. */
export interface BackendProbe {
  readonly backend: "docker" | "firecracker" | "qemu";
  readonly available: boolean;
  /** What was found, or what is missing and how to get it. */
  readonly detail: string;
}

/** Where to look; every path is injectable so the probe can be tested without touching the host. */
export interface DetectOptions {
  dockerSocket?: string;
  kvmDevice?: string;
  firecrackerBinary?: string;
  qemuBinary?: string;
  /** PATH used to find binaries given by name. */
  searchPath?: string;
  timeoutMs?: number;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findBinary(name: string, searchPath: string): Promise<string | undefined> {
  if (name.includes("/")) return (await isExecutable(name)) ? name : undefined;
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Asks the Docker engine's `/_ping` over its unix socket: a socket file alone proves nothing. */
function pingDocker(socketPath: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path: "/_ping", method: "GET", timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          const version = res.headers["api-version"];
          resolve(
            res.statusCode === 200 && body.trim() === "OK" ? String(version ?? "?") : undefined,
          );
        });
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

/**
 * Finds which sandbox backends can run here. Docker needs an engine that answers; Firecracker
 * needs `/dev/kvm` and its binary; QEMU runs anywhere its binary exists (TCG without KVM).
 */
export async function detectBackends(options: DetectOptions = {}): Promise<BackendProbe[]> {
  const dockerSocket = options.dockerSocket ?? "/var/run/docker.sock";
  const kvmDevice = options.kvmDevice ?? "/dev/kvm";
  const searchPath = options.searchPath ?? process.env.PATH ?? "";
  const timeoutMs = options.timeoutMs ?? 1000;
  const firecrackerName = options.firecrackerBinary ?? "firecracker";

  const [dockerApi, kvm, firecracker, qemu] = await Promise.all([
    pingDocker(dockerSocket, timeoutMs),
    access(kvmDevice, constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    ),
    findBinary(firecrackerName, searchPath),
    findBinary(options.qemuBinary ?? "qemu-system-x86_64", searchPath),
  ]);

  return [
    {
      backend: "docker",
      available: dockerApi !== undefined,
      detail:
        dockerApi !== undefined
          ? `engine answers on ${dockerSocket} (API ${dockerApi})`
          : `no Docker engine answers on ${dockerSocket}: install docker.io and start dockerd`,
    },
    {
      backend: "firecracker",
      available: kvm && firecracker !== undefined,
      detail:
        kvm && firecracker !== undefined
          ? `KVM and ${firecracker}`
          : [
              ...(kvm
                ? []
                : [`${kvmDevice} is missing or not readable and writable: Firecracker needs KVM`]),
              ...(firecracker !== undefined
                ? []
                : [
                    `firecracker binary ${firecrackerName} not found${
                      firecrackerName.includes("/") ? "" : " on PATH"
                    } (sandbox.firecracker.binary)`,
                  ]),
            ].join("; "),
    },
    {
      backend: "qemu",
      available: qemu !== undefined,
      detail:
        qemu === undefined
          ? "qemu-system-x86_64 not found: install qemu-system-x86"
          : `${qemu} (${kvm ? "KVM" : "TCG, no KVM"})`,
    },
  ];
}
