import { z } from "zod";
import {
  boolSetting,
  intSetting,
  stringListSetting,
  stringMapSetting,
  urlSetting,
} from "./schema-helpers.js";

// Every section is strict: an unknown key is an error, not silently ignored, because a misspelt
// or misplaced key that is dropped looks like a setting that took effect. Nested sections use
// `.prefault({})` so an absent section still gets its fields' defaults.

/** Log levels, as pino names them. */
export const logLevelSchema = z.enum([
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
]);

/** A log level. */
export type LogLevel = z.infer<typeof logLevelSchema>;

/**
 * Sandbox backends a config may name; `auto` lets the control plane pick, at each create, the
 * first of firecracker, docker, qemu that an active worker offers.
 */
export const sandboxBackendSettingSchema = z.enum(["auto", "docker", "firecracker", "qemu"]);

const serverSchema = z.strictObject({
  // Loopback by default: the embedded mode must not expose an API to the network by accident.
  host: z.string().min(1).default("127.0.0.1"),
  // spec/api.md's documented default; the dashboard is served from the same port.
  port: intSetting(0, 65_535).default(8080),
  // Origins allowed to call the API from a browser besides the dashboard itself (same origin).
  corsOrigins: stringListSetting().default([]),
  // Requests a minute per API key; 0 turns rate limiting off. Shared through Redis when set.
  rateLimitPerMinute: intSetting(0).default(6000),
  // Wrong API keys one client address may present per window before every keyed request from it
  // gets 429 (without a database lookup) until the window ends; 0 turns this off. Shared through
  // Redis when set. Behind a reverse proxy every client shares the proxy's address.
  authFailureLimit: intSetting(0).default(20),
  authFailureWindowSec: intSetting(1, 86_400).default(60),
  // Largest JSON request body. File uploads stream and are bounded by maxUploadMb instead.
  bodyLimitMb: intSetting(1, 1024).default(10),
  maxUploadMb: intSetting(1).default(1024),
  // The dashboard's static build; unset: the one beside the gateway in this checkout.
  dashboardDir: z.string().min(1).optional(),
  // Longest a `?wait=true` request waits before answering with the state so far.
  waitTimeoutSec: intSetting(1, 3600).default(120),
  // Longest each `/health` probe (database query, Redis PING) may take before the component is
  // reported down, so a frozen dependency never hangs the health check.
  healthTimeoutMs: intSetting(100, 60_000).default(2000),
});

const databaseSchema = z.strictObject({
  // Absent: an embedded PGlite database under `home` (nothing to install). Set it to share state
  // between several gateways/workers.
  url: urlSetting(["postgres", "postgresql"]).optional(),
  // Upper bound on pooled connections per process; PostgreSQL's own default max is 100 in total.
  poolMax: intSetting(1, 1000).default(10),
  // Longest wait for a connection (a new one, or a free one from a full pool): past it the call
  // fails as `503 unavailable` instead of hanging while PostgreSQL is down or refusing.
  connectTimeoutMs: intSetting(100, 600_000).default(5000),
  // Longest a statement may run (PostgreSQL's statement_timeout, plus a client-side read timeout
  // a little longer for a server that stopped answering altogether).
  statementTimeoutMs: intSetting(100, 3_600_000).default(15_000),
});

const redisSchema = z.strictObject({
  // Absent: the in-process queue and event bus (one process only). Required for several processes.
  url: urlSetting(["redis", "rediss"]).optional(),
  // Prefix of every key and channel, so one Redis can serve several installations.
  keyPrefix: z.string().default("aetherium:"),
  // Longest a TCP connect to Redis may take before ioredis gives up and retries.
  connectTimeoutMs: intSetting(100, 600_000).default(3000),
  // Longest any request-path Redis command (enqueue, publish, rate-limit count, health PING) may
  // wait for its answer: a frozen Redis then gives `503 unavailable`, not a hung request.
  // Blocking reads of the queue's consumers are exempt: they wait on purpose.
  commandTimeoutMs: intSetting(100, 600_000).default(3000),
});

const authSchema = z.strictObject({
  // The admin API key. Absent in embedded mode: one is generated on first start and kept in
  // `<home>/admin.key`.
  apiKey: z.string().min(1, "expected a non-empty API key").optional(),
});

const lokiSchema = z.strictObject({
  // Base URL of Loki (`http://loki:3100`); the push path `/loki/api/v1/push` is added (a URL that
  // already ends in it is accepted as well).
  url: urlSetting(["http", "https"]).optional(),
  // Static labels on every stream (`env: prod`); `service` is always added.
  labels: stringMapSetting().default({}),
  batching: z
    .strictObject({
      // Off sends one HTTP request per log line: only for debugging the transport.
      enabled: boolSetting().default(true),
      // How often batches are pushed; Loki prefers fewer, larger pushes.
      intervalMs: intSetting(100).default(5000),
      // Lines kept in memory while Loki is slow or down before the oldest are dropped.
      maxBufferSize: intSetting(1).default(10_000),
    })
    .prefault({}),
});

const loggingSchema = z.strictObject({
  // `debug` is useful while developing; `info` is what production should read.
  level: logLevelSchema.default("info"),
  // `auto`: pretty in a terminal, JSON otherwise (and always JSON when NODE_ENV=production).
  format: z.enum(["json", "pretty", "auto"]).default("auto"),
  // Optional Loki shipping, in addition to stdout.
  loki: lokiSchema.prefault({}),
});

const queueSchema = z.strictObject({
  // Jobs one worker process runs at once; jobs mostly wait on Docker/VMs, so this may exceed CPUs.
  concurrency: intSetting(1, 1000).default(10),
});

const workerSchema = z.strictObject({
  // Stable id of this worker across restarts (so it can reclaim its sandboxes); absent: generated
  // once as `<hostname>-<random>` and kept in `<home>/worker-id`. A live id is refused to a second process.
  id: z.string().min(1).optional(),
  // Failure domain / placement group: a create that names a `zone` runs only on its workers.
  zone: z.string().min(1).default("default"),
  // Free-form labels (`gpu=a100`), informational only: shown by `GET /workers`; placement does
  // not use them (a create may ask for a `zone`, not for labels).
  labels: stringMapSetting().default({}),
  capacity: z
    .strictObject({
      // vCPUs offered to sandboxes; absent: the host's CPU count.
      vcpus: intSetting(1).optional(),
      // Memory offered to sandboxes; absent: most of the host's memory.
      memoryMb: intSetting(64).optional(),
      // Hard cap on concurrent sandboxes regardless of size.
      maxVms: intSetting(1).default(50),
    })
    .prefault({}),
  // How often the worker reports itself alive.
  heartbeatMs: intSetting(100).default(5000),
  // Silence after which a worker is marked offline and its sandboxes `lost`; several heartbeats.
  offlineAfterMs: intSetting(100).default(30_000),
  // Port of the worker's internal API (exec/file streaming from gateways); not the public API.
  internalPort: intSetting(0, 65_535).default(8081),
  // Address gateways use to reach this worker; absent: `<hostname>:<internalPort>`.
  advertiseAddress: z.string().min(1).optional(),
});

const sandboxSchema = z.strictObject({
  // Backend for sandboxes that do not ask for one; `auto` follows what the active workers offer.
  defaultBackend: sandboxBackendSettingSchema.default("auto"),
  // Sandboxes booted ahead of demand per worker, so creation is a hand-over, not a boot.
  warmPoolSize: intSetting(0, 1000).default(0),
  // Stop a running sandbox after this many seconds without a command (0: never). Stopped ones
  // keep their files and start again on request; their TTL still deletes them.
  idleStopSec: intSetting(0).default(0),
  // How long one tool a sandbox asks for (`POST /vms {tools}`) may take to install with mise
  // before it is killed and the sandbox fails naming it.
  toolTimeoutSec: intSetting(1, 86_400).default(600),
  // Port of the egress proxy that enforces allow-lists, on the host address of the allow-list
  // bridge. Every worker on a host uses the same one (one serves, the others stand by).
  egressProxyPort: intSetting(1, 65_535).default(3128),
  // Host directory under which the Docker backend makes each sandbox's run directory (its agent
  // socket), bind-mounted into the sandbox by the engine. A worker that runs in a container sees
  // it at the same path as the host, so the engine and the worker name the same directory.
  runDir: z
    .string()
    .startsWith("/", "expected an absolute path")
    .default("/run/aetherium/sandboxes"),
  // Networking of microVM sandboxes (Firecracker, QEMU): one TAP per VM on a host bridge.
  vmNetwork: z
    .strictObject({
      // The host bridge the VMs' TAPs join (at most 15 characters, an interface name). Not
      // `aetherium0`: that is the Docker backend's sandbox bridge, and Docker owns its address
      // and rules; a VM bridge beside it keeps the two backends from editing each other's.
      bridge: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, "expected an interface name (1-15 characters)")
        .default("aetherium-vm0"),
      // IPv4 subnet VMs get addresses from (leased in the database, so every worker on the host
      // and every restart sees the same ones); its first host address is the bridge's. Pick one
      // that no other network of the host (Docker's included) uses.
      subnet: z
        .string()
        .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "expected an IPv4 subnet (10.213.0.0/20)")
        .default("10.213.0.0/20"),
    })
    .prefault({}),
  // The Firecracker backend, opened only where KVM, the binary, the kernel and the root
  // filesystem all exist.
  firecracker: z
    .strictObject({
      // The `firecracker` binary, by name on PATH or by path.
      binary: z.string().min(1).default("firecracker"),
      // Uncompressed guest kernel (`vmlinux`) and ext4 root filesystem template. Absent: the
      // backend reports what is missing and takes no sandboxes.
      kernel: z.string().min(1).optional(),
      rootfs: z.string().min(1).optional(),
      // Per-VM state (disk copy, sockets, logs); absent: `<home>/firecracker`.
      stateDir: z.string().min(1).optional(),
      // Run each VMM under Firecracker's `jailer` (chroot, cgroup limits, an unprivileged
      // uid/gid); absent: `firecracker` runs directly as the worker's user.
      jailer: z
        .strictObject({
          binary: z.string().min(1).default("jailer"),
          uid: intSetting(1),
          gid: intSetting(1),
          chrootBaseDir: z.string().min(1).default("/srv/jailer"),
          cgroupVersion: intSetting(1, 2).default(2),
          parentCgroup: z.string().min(1).optional(),
        })
        .optional(),
    })
    .prefault({}),
});

const secretsSchema = z.strictObject({
  // Key that encrypts stored secrets. Must be the same on every process and across restarts: a key
  // made per process would leave what another process (or an earlier run) sealed unreadable.
  // Absent in embedded mode: generated once and kept under `home`.
  encryptionKey: z
    .string()
    .min(32, "expected at least 32 characters (e.g. `openssl rand -base64 32`)")
    .optional(),
});

// Secrets of the integrations: present means the integration is on; absent, its routes answer 404.
const optionalSecret = z.string().min(1).optional();

const integrationsSchema = z.strictObject({
  // Tenant whose sandboxes, workspaces and prompts the integrations act on.
  tenant: z.string().min(1).default("default"),
  // Largest request body a provider may send (bytes); larger ones get 413 and start nothing.
  maxBodyBytes: intSetting(1024, 25 * 1024 * 1024).default(1024 * 1024),
  // Longest tail of a command's output (bytes of UTF-8) a reply carries; providers' own message
  // limits may cut it further (Discord: 2000 characters).
  resultMaxBytes: intSetting(256, 1024 * 1024).default(60 * 1024),
  // Longest a command started from a provider may run before the reply says it is still running.
  commandTimeoutSec: intSetting(1, 24 * 3600).default(600),
  github: z
    .strictObject({
      // The webhook's secret (GitHub: Settings → Webhooks → Secret). Absent: GitHub is off.
      webhookSecret: optionalSecret,
      // Token that posts comments and commit statuses (a PAT or an installation token).
      token: optionalSecret,
      // REST API base: `https://api.github.com`, or `https://<host>/api/v3` for GitHub Enterprise.
      apiBaseUrl: urlSetting(["http", "https"]).default("https://api.github.com"),
      // The word a comment starts with to address Aetherium (`/aether run make test`).
      command: z.string().regex(/^\S+$/, "expected one word").default("/aether"),
      // `owner/repo=<sandbox id or name>`: where `/aether run` and checks run for a repository.
      sandboxes: stringMapSetting().default({}),
      // `owner/repo=<workspace>`: where `/aether <prompt>` goes for a repository.
      workspaces: stringMapSetting().default({}),
      // `owner/repo=<command>`: run on pull requests opened or pushed to, reported as a commit status.
      checks: stringMapSetting().default({}),
    })
    .prefault({}),
  slack: z
    .strictObject({
      // The app's signing secret (Slack: Basic Information → App Credentials). Absent: Slack is off.
      signingSecret: optionalSecret,
      // Bot token (`xoxb-…`) for answering app mentions with `chat.postMessage`.
      botToken: optionalSecret,
      // Slack Web API base.
      apiBaseUrl: urlSetting(["http", "https"]).default("https://slack.com/api"),
      // Incoming webhook that hears about every finished command and prompt an integration started.
      notifyWebhookUrl: urlSetting(["http", "https"]).optional(),
      // A channel (id) that hears the same through `chat.postMessage`; needs the bot token.
      notifyChannel: z.string().min(1).optional(),
    })
    .prefault({}),
  discord: z
    .strictObject({
      // The application's public key (hex; Developer Portal → General Information). Absent: Discord is off.
      publicKey: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex characters (an Ed25519 public key)")
        .optional(),
      // The application id: where slash commands are registered.
      applicationId: z.string().regex(/^\d+$/, "expected a numeric id").optional(),
      // Bot token, only for registering the slash commands.
      botToken: optionalSecret,
      // Discord API base (with its version).
      apiBaseUrl: urlSetting(["http", "https"]).default("https://discord.com/api/v10"),
    })
    .prefault({}),
});

/**
 * The whole platform's configuration. Every field has a default or is optional, so an empty file
 * (or none) gives a working embedded install. See `loadConfig()` for where values come from.
 */
export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    // Embedded state: PGlite data, the admin key, image cache. Resolved against the working dir.
    home: z.string().min(1).default("./.aetherium"),
    database: databaseSchema.prefault({}),
    redis: redisSchema.prefault({}),
    auth: authSchema.prefault({}),
    logging: loggingSchema.prefault({}),
    queue: queueSchema.prefault({}),
    worker: workerSchema.prefault({}),
    sandbox: sandboxSchema.prefault({}),
    secrets: secretsSchema.prefault({}),
    // GitHub, Slack and Discord driving sandboxes and agents.
    integrations: integrationsSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.worker.offlineAfterMs < config.worker.heartbeatMs * 2) {
      ctx.addIssue({
        code: "custom",
        path: ["worker", "offlineAfterMs"],
        message: `expected at least twice worker.heartbeatMs (${config.worker.heartbeatMs}), or one late heartbeat marks the worker offline`,
      });
    }
  });

/** The validated configuration, with defaults applied. */
export type Config = z.infer<typeof configSchema>;

/** What a config file (or a test) may provide: every field optional. */
export type ConfigInput = z.input<typeof configSchema>;
