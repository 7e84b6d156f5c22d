import { z } from "zod";
import { envVarsSchema } from "../domain/primitives.js";

/**
 * Schemas of the E2B-compatible control API the gateway serves under `/e2b` (the surface of
 * E2B's public `spec/openapi.yml` that the `e2b` SDKs call). Field names are E2B's own, so they
 * differ from `/api/v1` on purpose: the SDK sends them unchanged.
 * @module
 */

/** The lowest envd version whose features the `/e2b` in-sandbox API really implements. */
export const E2B_ENVD_VERSION = "0.6.4";

/** The envd port the SDK names in `E2b-Sandbox-Port`; any other port is a user port. */
export const E2B_ENVD_PORT = 49983;

/** Longest sandbox lifetime one E2B request may set, in seconds (Aetherium's own limit: 30 days). */
const MAX_TIMEOUT_SEC = 2_592_000;

/** `timeout` of E2B bodies: seconds from now until the sandbox ends. */
export const e2bTimeoutSchema = z
  .number({ error: "timeout must be a number of seconds" })
  .int("timeout must be an integer")
  .min(0, `timeout must be between 0 and ${MAX_TIMEOUT_SEC} seconds`)
  .max(MAX_TIMEOUT_SEC, `timeout must be between 0 and ${MAX_TIMEOUT_SEC} seconds`);

/**
 * E2B metadata: string pairs, kept on the sandbox as labels, so keys and values follow the label
 * patterns. Keys starting with `e2b.` are the gateway's own and refused.
 */
export const e2bMetadataSchema = z
  .record(z.string(), z.string({ error: "metadata values must be strings" }))
  .superRefine((meta, ctx) => {
    for (const key of Object.keys(meta)) {
      if (key.startsWith("e2b.")) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "metadata keys starting with 'e2b.' are reserved",
        });
      }
    }
  });

/**
 * Body of `POST /e2b/sandboxes` and `POST /e2b/v2/sandboxes`. Strict: a field the SDK may send
 * and Aetherium does not implement (`mcp`, `volumeMounts`, `autoResume`, …) is a 400 naming it,
 * never accepted and ignored.
 */
export const e2bCreateSandboxBodySchema = z.strictObject({
  templateID: z
    .string()
    .min(1, "templateID is required")
    .max(255, "templateID is at most 255 characters"),
  timeout: e2bTimeoutSchema.optional(),
  metadata: e2bMetadataSchema.optional(),
  envVars: envVarsSchema.optional(),
  /** Aetherium always issues an envd access token: `secure: false` still gets one. */
  secure: z.boolean().optional(),
  allow_internet_access: z.boolean().optional(),
  /**
   * `allowPublicTraffic: false`: the sandbox's ports answer only requests that carry its
   * `trafficAccessToken`. Egress rules here (`allowOut`, `denyOut`, …) are refused: use
   * `allow_internet_access`.
   */
  network: z
    .strictObject(
      { allowPublicTraffic: z.boolean().optional() },
      { error: "network takes only allowPublicTraffic here" },
    )
    .optional(),
  /** At its timeout the sandbox is paused (memory kept) instead of killed. */
  autoPause: z.boolean().optional(),
  /** A pause always keeps memory here: `false` (a filesystem-only snapshot) is refused. */
  autoPauseMemory: z
    .boolean()
    .refine((v) => v, "autoPauseMemory: false is not available: a paused sandbox keeps its memory")
    .optional(),
});

/** Body of `POST /e2b/sandboxes/{id}/pause`: `memory: false` (drop memory) is refused. */
export const e2bPauseBodySchema = z.strictObject({
  memory: z
    .boolean()
    .refine((v) => v, "memory: false is not available: a paused sandbox keeps its memory")
    .optional(),
});

/** An E2B create body. */
export type E2bCreateSandboxBody = z.infer<typeof e2bCreateSandboxBodySchema>;

/** Body of `POST /e2b/sandboxes/{id}/timeout`. */
export const e2bSetTimeoutBodySchema = z.strictObject({ timeout: e2bTimeoutSchema });

/** Body of `POST /e2b/sandboxes/{id}/connect` and its `/v2` twin. */
export const e2bConnectBodySchema = z.strictObject({
  timeout: e2bTimeoutSchema.optional(),
  memory: z
    .boolean()
    .refine((v) => v, "resuming without memory is not available: a paused sandbox keeps its memory")
    .optional(),
});

/** The states E2B lists. */
export const e2bSandboxStateSchema = z.enum(["running", "paused"], {
  error: "state must be running or paused",
});

/** An E2B sandbox state. */
export type E2bSandboxState = z.infer<typeof e2bSandboxStateSchema>;

/**
 * Query of `GET /e2b/v2/sandboxes` (and of `GET /e2b/sandboxes`, which has no pagination in
 * E2B). `metadata` is URL-encoded `key=value&…` as the SDK sends it; `state` a comma list.
 */
export const e2bListQuerySchema = z.object({
  metadata: z.string().max(8192, "metadata is at most 8192 characters").optional(),
  state: z
    .union([z.string(), z.array(z.string())])
    .transform((s) => (Array.isArray(s) ? s : [s]).flatMap((x) => x.split(",")).filter(Boolean))
    .pipe(z.array(e2bSandboxStateSchema))
    .optional(),
  limit: z.coerce
    .number({ error: "limit must be a number" })
    .int("limit must be an integer")
    .min(1, "limit must be between 1 and 100")
    .max(100, "limit must be between 1 and 100")
    .default(100),
  nextToken: z.string().max(500, "nextToken is at most 500 characters").optional(),
});

/** Query of `GET /sandboxes/{id}/metrics`: the interval, in Unix seconds, samples must fall in. */
export const e2bMetricsQuerySchema = z
  .object({
    start: z.coerce
      .number({ error: "start must be a number" })
      .int("start must be an integer")
      .min(0, "start must be at least 0")
      .optional(),
    end: z.coerce
      .number({ error: "end must be a number" })
      .int("end must be an integer")
      .min(0, "end must be at least 0")
      .optional(),
  })
  .refine((q) => q.start === undefined || q.end === undefined || q.start <= q.end, {
    message: "start must not be after end",
    path: ["start"],
  });

/** E2B's `SandboxMetric`. */
export const e2bSandboxMetricSchema = z.object({
  timestamp: z.string(),
  timestampUnix: z.number().int(),
  cpuCount: z.number().int(),
  cpuUsedPct: z.number(),
  memUsed: z.number().int(),
  memTotal: z.number().int(),
  memCache: z.number().int(),
  diskUsed: z.number().int(),
  diskTotal: z.number().int(),
});

/** One E2B metrics sample. */
export type E2bSandboxMetric = z.infer<typeof e2bSandboxMetricSchema>;

/** A parsed E2B list query. */
export type E2bListQuery = z.infer<typeof e2bListQuerySchema>;

/** What create and connect answer: enough for the SDK to reach the sandbox's envd. */
export const e2bSandboxSchema = z.object({
  sandboxID: z.string(),
  templateID: z.string(),
  clientID: z.string(),
  envdVersion: z.string(),
  envdAccessToken: z.string(),
  trafficAccessToken: z.string().nullable(),
  domain: z.string().nullable(),
  alias: z.string().optional(),
});

/** A create or connect answer. */
export type E2bSandbox = z.infer<typeof e2bSandboxSchema>;

/** One sandbox as get and list describe it. */
export const e2bSandboxDetailSchema = z.object({
  sandboxID: z.string(),
  templateID: z.string(),
  clientID: z.string(),
  alias: z.string().optional(),
  startedAt: z.string(),
  endAt: z.string(),
  cpuCount: z.number().int(),
  memoryMB: z.number().int(),
  diskSizeMB: z.number().int(),
  metadata: z.record(z.string(), z.string()),
  state: e2bSandboxStateSchema,
  envdVersion: z.string(),
  allowInternetAccess: z.boolean().optional(),
  domain: z.string().nullable(),
  /** What its timeout does; traffic never resumes a paused sandbox here (`autoResume: false`). */
  lifecycle: z.object({ onTimeout: z.enum(["kill", "pause"]), autoResume: z.boolean() }).optional(),
});

/** A described sandbox. */
export type E2bSandboxDetail = z.infer<typeof e2bSandboxDetailSchema>;

/** The control API's error body: the HTTP status as `code`, and a message. */
export const e2bErrorSchema = z.object({ code: z.number().int(), message: z.string() });

/** A control API error body. */
export type E2bError = z.infer<typeof e2bErrorSchema>;
