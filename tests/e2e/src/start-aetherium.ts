import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const exec = promisify(execFile);

/**
 * What a platform killed with SIGKILL leaves on the host: the containers of its worker id (a
 * sandbox a test left, or one being made as it died) and the tmpfs run directories it had mounted
 * under its home. Both are removed, so no test leaves a sandbox running after it.
 */
async function removeLeftovers(workerId: string, dir: string): Promise<void> {
  const listed = await exec("docker", [
    "ps",
    "-aq",
    "--filter",
    `label=aetherium.worker-id=${workerId}`,
  ]).catch(() => ({ stdout: "" }));
  const ids = listed.stdout.split(/\s+/).filter(Boolean);
  if (ids.length > 0) await exec("docker", ["rm", "--force", ...ids]).catch(() => undefined);
  const mounts = (await readFile("/proc/self/mounts", "utf8").catch(() => ""))
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((m) => m.startsWith(`${dir}/`))
    .reverse();
  for (const m of mounts) await exec("umount", ["--lazy", m]).catch(() => undefined);
}

/** The built `aetherium` entry point, as `npm start` runs it. */
export const AETHERIUM_MAIN = path.join(repo, "services/server/dist/main.js");

/** An Aetherium process started for a test, in a temp directory of its own. */
export interface StartedAetherium {
  readonly url: string;
  /** The admin API key it generated on first start (from `<home>/admin.key`). */
  readonly apiKey: string;
  /** The directory it runs in; `AETHERIUM_HOME` is `<dir>/.aetherium`. */
  readonly dir: string;
  /** Everything printed to stdout so far. */
  stdout(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Kills the process if still running and removes its directory. */
  cleanup(): Promise<void>;
}

/**
 * Runs `aetherium start` on a free port and resolves once it prints its URL. Rejects with
 * everything it printed if it exits or stays silent for `timeoutMs`. Each run gets a worker id of
 * its own unless `AETHERIUM_WORKER_ID` is given: reconcile removes containers of its worker id
 * that it has no row for, so two test platforms sharing the host name would delete each other's.
 */
export async function startAetherium(
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<StartedAetherium> {
  const dir = await mkdtemp(path.join(tmpdir(), "aet-e2e-"));
  const env = {
    ...process.env,
    AETHERIUM_PORT: "0",
    AETHERIUM_HOME: path.join(dir, ".aetherium"),
    NO_COLOR: "1",
    AETHERIUM_WORKER_ID: `e2e-${randomBytes(4).toString("hex")}`,
    ...options.env,
  };
  const child = spawn(process.execPath, [AETHERIUM_MAIN, "start"], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));

  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await removeLeftovers(env.AETHERIUM_WORKER_ID, dir);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no start banner in ${options.timeoutMs ?? 30_000} ms:\n${out}\n${err}`),
          ),
        options.timeoutMs ?? 30_000,
      );
      const onData = () => {
        const m = /running at (http:\/\/\S+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          child.stdout.off("data", onData);
          resolve(m[1]);
        }
      };
      child.stdout.on("data", onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`aetherium start exited with ${code}:\n${out}\n${err}`));
      });
    });
    const apiKey = (
      await readFile(path.join(dir, ".aetherium", "admin.key"), "utf8").catch(() => "")
    ).trim();
    return {
      url,
      apiKey,
      dir,
      stdout: () => out,
      stop: async (signal = "SIGTERM") => {
        child.kill(signal);
        return exited;
      },
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
