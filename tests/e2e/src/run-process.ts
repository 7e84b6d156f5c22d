import { spawn } from "node:child_process";
import { AETHERIUM_MAIN } from "./start-aetherium.js";

/** An `aetherium <command>` process started for a test. */
export interface AetheriumProcess {
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** What the first line matching `ready` captured. */
  readonly match: RegExpExecArray;
  /** Its process id, for measuring it from outside. */
  readonly pid: number;
  /** Sends SIGTERM (then SIGKILL after 10 s) and resolves once it is gone. */
  stop(): Promise<void>;
}

/**
 * Runs the built `aetherium` with `args` and `env`, resolving once its output matches `ready`
 * (rejecting with what it printed if it exits first or takes longer than `timeoutMs`).
 */
export async function runAetherium(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<AetheriumProcess> {
  const child = spawn(process.execPath, [AETHERIUM_MAIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", AETHERIUM_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`aetherium ${args.join(" ")} not ready in ${timeoutMs} ms:\n${out}`)),
        timeoutMs,
      );
      const check = () => {
        const m = ready.exec(out);
        if (m) {
          clearTimeout(timer);
          child.stdout.off("data", check);
          resolve(m);
        }
      };
      child.stdout.on("data", check);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`aetherium ${args.join(" ")} exited early:\n${out}`));
      });
    });
    return { output: () => out, match, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
