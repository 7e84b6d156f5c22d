import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll } from "vitest";
import type { CliIo, InStream } from "../io.js";
import { runAether } from "../program.js";

/** What one `aether` command line printed, and its exit code. */
export interface AetherRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A real gateway on a real control plane (fresh database, no worker) for CLI tests. */
export interface CliTestGateway {
  readonly url: string;
  readonly admin: string;
  /** A scratch directory: the CLI's working directory and the gateway's home. */
  readonly home: string;
  readonly runtime: ControlPlane;
  /** Runs `aether <argv>` against the gateway with `stdin` (empty by default). */
  readonly aether: (argv: string[], stdin?: InStream | string) => Promise<AetherRun>;
}

/**
 * Starts the gateway before the file's tests and removes it, its database and its home after.
 * `rateLimit` widens the per-key limit for files that send many requests.
 */
export function useCliTestGateway(
  name: string,
  options: { rateLimit?: { max: number; timeWindowMs: number } } = {},
): CliTestGateway {
  const db = useTestDatabase();
  let app: Awaited<ReturnType<typeof buildServer>> | undefined;
  const state = { url: "", admin: "", home: "", runtime: undefined as ControlPlane | undefined };

  beforeAll(async () => {
    state.home = await mkdtemp(path.join(tmpdir(), `aether-${name}-`));
    const config = loadConfig({
      env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: state.home },
    });
    const logger = createLogger({ level: "silent", service: `cli-${name}-test` });
    state.runtime = await openControlPlane(config, { logger, migrate: true });
    state.admin = (await ensureBootstrapKey(state.runtime.repos, { home: state.home })).secret;
    app = await buildServer({
      logger,
      runtime: state.runtime,
      dataPlane: new DataPlaneClient(),
      health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
      waitTimeoutMs: 500,
    });
    state.url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost");
  });

  afterAll(async () => {
    await app?.close();
    await state.runtime?.close();
    if (state.home) await rm(state.home, { recursive: true, force: true });
  });

  return {
    get url() {
      return state.url;
    },
    get admin() {
      return state.admin;
    },
    get home() {
      return state.home;
    },
    get runtime() {
      if (!state.runtime) throw new Error("the CLI test gateway is not started yet");
      return state.runtime;
    },
    aether: async (argv, stdin = "") => {
      let stdout = "";
      let stderr = "";
      const input = typeof stdin === "string" ? Readable.from(stdin ? [stdin] : []) : stdin;
      const io: CliIo = {
        stdout: { write: (c) => (stdout += typeof c === "string" ? c : Buffer.from(c).toString()) },
        stderr: { write: (c) => (stderr += typeof c === "string" ? c : Buffer.from(c).toString()) },
        stdin: input,
        env: { AETHERIUM_URL: state.url, AETHERIUM_API_KEY: state.admin },
        cwd: state.home,
      };
      const code = await runAether(argv, io);
      return { code, stdout, stderr };
    },
  };
}
