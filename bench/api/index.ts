// bench/api: the gateway's cost, side by side in one run.
// 1. GET /api/v1/vms over 1000 rows (a page of 50) through the whole gateway (auth by key hash,
//    zod validation, rate limiting, audit hooks, metrics) against a bare Fastify route running the
//    same repository query: max sustained rate (autocannon, 10 connections) and p50/p99 latency
//    at a fixed rate of half our maximum.
// 2. Exec round trip of `true`: SDK → gateway → worker data plane → agent against the worker's
//    direct agent call, on the same sandbox (skipped with a note when Docker is not ready).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { createLogger, loadConfig } from "@aetherium/common";
import { openControlPlane, type ControlPlane } from "@aetherium/core";
import { startWorkerProcess } from "@aetherium/worker";
import { startGatewayProcess } from "@aetherium/gateway";
import { AetheriumClient } from "@aetherium/sdk";
import { createTestDatabase } from "@aetherium/testing";
import Fastify from "fastify";
import type { Benchmark } from "../lib/bench.js";
import { formatTable, round, sample, summarize } from "../lib/stats.js";

const ROWS = 1000;
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 5);
const EXEC_ROUNDS = Number(process.env.BENCH_API_EXEC_ROUNDS ?? 200);
/**
 * Requests per minute per key the gateway's rate limiter allows. By default the limiter runs as in
 * production (every request is counted against its key) with a limit no load here reaches, so the
 * figures include its cost without measuring its refusals. `BENCH_API_RATE_LIMIT=0` turns it off;
 * `6000` is the production default, which this load exceeds (most requests then get 429).
 */
const RATE_LIMIT = Math.max(0, Math.floor(Number(process.env.BENCH_API_RATE_LIMIT ?? 1e9) || 0));
const rateLimiter =
  RATE_LIMIT === 0
    ? "off (BENCH_API_RATE_LIMIT=0): the gateway's figures leave out the per-key rate limiter"
    : `on, as in production (${RATE_LIMIT} requests/min per key${RATE_LIMIT >= 1e6 ? ": counts every request, refuses none at this load" : ""})`;

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(
  url: string,
  headers: Record<string, string>,
  rate?: number,
): Promise<LoadResult> {
  const r = await autocannon({
    url,
    headers,
    connections: 10,
    duration: SECONDS,
    ...(rate ? { overallRate: rate } : {}),
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
  };
}

async function seed(runtime: ControlPlane): Promise<void> {
  for (let i = 0; i < ROWS; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, ROWS - i) }, (_, j) =>
        runtime.repos.vms.create({
          name: `bench-${i + j}`,
          backend: "docker",
          image: "aetherium/base:bench",
          vcpus: 1,
          memoryMb: 512,
          labels: { bench: "api" },
        }),
      ),
    );
  }
}

const bench: Benchmark = {
  name: "api",
  description: `GET /vms over ${ROWS} rows (ours vs a bare Fastify route on the same query) and exec through SDK → gateway → worker → agent vs the direct agent call`,
  async run() {
    const db = await createTestDatabase();
    const home = await mkdtemp(path.join(tmpdir(), "aet-bench-api-"));
    const logger = createLogger({ level: "silent", service: "bench-api" });
    const config = loadConfig({
      env: {
        AETHERIUM_DATABASE_URL: db.url,
        AETHERIUM_HOME: home,
        AETHERIUM_PORT: "0",
        AETHERIUM_WORKER_ID: `bench-api-${process.pid}`,
        AETHERIUM_RATE_LIMIT: String(RATE_LIMIT),
        AETHERIUM_LOG_LEVEL: "silent",
      },
    });
    const runtime = await openControlPlane(config, { logger, migrate: true });
    const closers: (() => Promise<unknown>)[] = [
      () => runtime.close(),
      () => db.drop(),
      () => rm(home, { recursive: true, force: true }),
    ];
    try {
      console.log(`rate limiter: ${rateLimiter}`);
      await seed(runtime);
      // The same roots `aetherium start` composes: worker first, then the gateway (and its reaper).
      const worker = await startWorkerProcess(runtime, config, {
        logger,
        internalPort: 0,
        reaper: false,
      });
      closers.unshift(() => worker.close(5000));
      const docker = worker.sandboxes?.managers.of("docker");
      const { gateway, close } = await startGatewayProcess(runtime, config, { logger });
      closers.unshift(close);

      const bare = Fastify();
      bare.get("/vms", async () => runtime.vms.list({ limit: 50 }));
      const bareUrl = await bare.listen({ host: "127.0.0.1", port: 0 });
      closers.unshift(() => bare.close());

      const auth = { authorization: `Bearer ${gateway.adminKey.secret}` };
      const oursUrl = `${gateway.url}/api/v1/vms?limit=50`;
      // Warm both (JIT, pool connections), then measure alternately.
      await load(oursUrl, auth, 200);
      await load(`${bareUrl}/vms`, {}, 200);
      const oursMax = await load(oursUrl, auth);
      const bareMax = await load(`${bareUrl}/vms`, {});
      const fixedRate = Math.max(10, Math.round(oursMax.rps / 2));
      const oursFixed = await load(oursUrl, auth, fixedRate);
      const bareFixed = await load(`${bareUrl}/vms`, {}, fixedRate);
      console.log(
        formatTable([
          [
            "GET /vms (50 of 1000)",
            "max rps",
            `p50 @${fixedRate}/s`,
            `p99 @${fixedRate}/s`,
            "errors",
          ],
          [
            "ours (gateway)",
            String(round(oursMax.rps, 0)),
            `${oursFixed.p50} ms`,
            `${oursFixed.p99} ms`,
            String(oursMax.errors + oursFixed.errors),
          ],
          [
            "bare Fastify + same query",
            String(round(bareMax.rps, 0)),
            `${bareFixed.p50} ms`,
            `${bareFixed.p99} ms`,
            String(bareMax.errors + bareFixed.errors),
          ],
        ]),
      );

      let exec: { oursP50: number; directP50: number; overheadMs: number } | undefined;
      if (docker && process.env.BENCH_API_EXEC !== "0") {
        const client = new AetheriumClient({ url: gateway.url, apiKey: gateway.adminKey.secret });
        const sandbox = await client.vms.create({ name: "bench-exec" }, { wait: true });
        closers.unshift(() => sandbox.delete({ wait: true }));
        const agent = await docker.client(sandbox.id);
        const bounds = { maxIterations: EXEC_ROUNDS, maxMs: 60_000, warmup: 20 };
        const ours = summarize(await sample(() => sandbox.exec("true"), bounds));
        const direct = summarize(await sample(() => agent.exec({ shell: "true" }), bounds));
        exec = {
          oursP50: round(ours.p50),
          directP50: round(direct.p50),
          overheadMs: round(ours.p50 - direct.p50),
        };
        console.log(
          formatTable([
            ["exec `true` round trip", "p50", "p95"],
            ["SDK → gateway → worker → agent", `${round(ours.p50)} ms`, `${round(ours.p95)} ms`],
            ["worker → agent (direct)", `${round(direct.p50)} ms`, `${round(direct.p95)} ms`],
          ]),
        );
      } else {
        console.log(
          "exec round trip skipped: no Docker sandbox backend ready (see `aetherium start`)",
        );
      }
      return {
        bench: "api",
        listMaxRps: round(oursMax.rps, 0),
        listBareMaxRps: round(bareMax.rps, 0),
        listP50Ms: oursFixed.p50,
        listP99Ms: oursFixed.p99,
        fixedRate,
        rateLimitPerMinute: RATE_LIMIT,
        ...(exec
          ? {
              execP50Ms: exec.oursP50,
              execDirectP50Ms: exec.directP50,
              execOverheadMs: exec.overheadMs,
            }
          : {}),
        // Headline: the share of a bare route's throughput the full gateway keeps.
        ratio: round(oursMax.rps / bareMax.rps),
      };
    } finally {
      for (const close of closers) await close().catch(() => undefined);
    }
  },
};

export default bench;
