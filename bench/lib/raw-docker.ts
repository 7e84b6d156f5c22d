// The baseline most benches compare against: plain containers driven through the Docker Engine
// API (dockerode), the way a user without Aetherium would run a command in a container.
import { PassThrough } from "node:stream";
import { SANDBOX_LABELS, type DockerBackend } from "@aetherium/worker";

/** The dockerode client a {@link DockerBackend} holds. */
export type Docker = DockerBackend["docker"];

/** Label on the plain containers of the baseline, beside the worker id every container carries. */
const RAW_LABEL = "aetherium.bench";

const MiB = 1024 * 1024;

/** What a baseline container looks like; the same shape the benches give a sandbox. */
export interface RawShape {
  readonly image: string;
  readonly workerId: string;
  readonly networkMode: string;
  readonly vcpus: number;
  readonly memoryMb: number;
}

/** A plain container of the same image and roughly the same limits, not running the agent. */
export async function rawCreate(docker: Docker, shape: RawShape) {
  const memory = shape.memoryMb * MiB;
  return docker.createContainer({
    Image: shape.image,
    Entrypoint: ["sleep", "infinity"],
    Labels: { [SANDBOX_LABELS.workerId]: shape.workerId, [RAW_LABEL]: "raw" },
    HostConfig: {
      NanoCpus: shape.vcpus * 1e9,
      Memory: memory,
      MemorySwap: memory,
      PidsLimit: 1024,
      Init: true,
      NetworkMode: shape.networkMode,
    },
  });
}

/**
 * `docker exec` over the Engine API: create the exec, start it attached, read the multiplexed
 * stream to its end, then inspect for the exit code (what the docker CLI does). Returns the
 * exit code and the stdout payload bytes (frame headers excluded).
 */
export async function rawExec(
  docker: Docker,
  containerId: string,
  cmd: string[],
  timeoutMs = 30_000,
): Promise<{ exitCode: number | null; bytes: number }> {
  const exec = await docker
    .getContainer(containerId)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let bytes = 0;
  stdout.on("data", (c: Buffer) => (bytes += c.length));
  stderr.resume();
  docker.modem.demuxStream(stream, stdout, stderr);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`docker exec ${cmd.join(" ")} took over ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    stream.on("end", () => done());
    stream.on("close", () => done());
    stream.on("error", done);
  });
  let info = await exec.inspect();
  // The stream can close a hair before the engine records the exit.
  for (let i = 0; info.Running && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 2));
    info = await exec.inspect();
  }
  return { exitCode: info.ExitCode, bytes };
}
