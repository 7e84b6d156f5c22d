import http from "node:http";
import { errorResponseSchema } from "@aetherium/types";
import { beforeAll, describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

// Seeded fuzzing of every operation in the served OpenAPI document: malformed path parameters,
// queries and bodies must never give a 5xx, and every error must be the JSON envelope. A real
// gateway on real PostgreSQL; no worker (ids that exist nowhere are the point). Replay a failure
// with FUZZ_SEED=<the seed it printed>; FUZZ_CASES sets the requests per operation.
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_206);
const CASES = Number(process.env.FUZZ_CASES ?? 20);

const gw = useGatewayFixture({
  listen: true,
  server: {
    maxUploadBytes: 64 * 1024,
    // `?wait=true` answers with the state so far after this long: no worker will finish anything.
    waitTimeoutMs: 200,
  },
});
let admin: string;
let port: number;

beforeAll(() => {
  admin = gw.admin;
  port = Number(new URL(gw.url).port);
});

/** mulberry32: small, fast and the same on every platform for one seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

/** Path segments as they go on the wire (already percent-encoded, some of it badly). */
const BAD_SEGMENTS = [
  "%00",
  "a%00b",
  "%ff%fe",
  "%zz",
  "%",
  "%E2%82",
  "%C3%28",
  "%ED%A0%80",
  "a".repeat(150),
  "a".repeat(201),
  "a".repeat(5000),
  "00000000-0000-0000-0000-000000000000",
  "not-a-uuid",
  "..",
  "%2e%2e",
  "%2F",
  "%20",
  "%C3%A9t%C3%A9",
  "-1",
  "1e20",
  "null",
  "%5B%5D",
  "%7B%7D",
  "__proto__",
];

/** Query values, raw on the wire. */
const BAD_QUERY_VALUES = [
  "",
  "%00",
  "a%00b",
  "%ff",
  "%zz",
  "-1",
  "0",
  "abc",
  "1e20",
  "1.5",
  "true",
  "yes",
  "null",
  "[]",
  "garbage",
  "x".repeat(3000),
  "%E2%82",
  "status%3Drunning",
  "a%3Db",
  "%2F..%2F..%2Fetc%2Fpasswd",
  "/proc/self/environ",
];

const hugeString = (rand: Rand): string => "h".repeat(pick(rand, [1_000, 70_000, 300_000]));

/** A value of any JSON type, often wrong for the field it lands in. */
function badValue(rand: Rand, depth = 0): unknown {
  const kind = Math.floor(rand() * 16);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return -1;
    case 2:
      return 1e308;
    case 3:
      return 0.5;
    case 4:
      return true;
    case 5:
      return "";
    case 6:
      return "a\u0000b";
    case 7:
      return hugeString(rand);
    case 8:
      return "\ud800 lone surrogate";
    case 9:
      return depth > 2 ? [] : [badValue(rand, depth + 1), badValue(rand, depth + 1)];
    case 10:
      return depth > 2 ? {} : { A: badValue(rand, depth + 1), "bad key": "x", "": "y" };
    case 11:
      return "not-a-uuid";
    case 12:
      return { A: "x\u0000y" };
    case 13:
      return ["a\u0000b"];
    case 14:
      return Number.MAX_SAFE_INTEGER + 2;
    default:
      return "é€😀";
  }
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly queryNames: readonly string[];
  readonly bodyProps: readonly string[];
  readonly hasBody: boolean;
  /** Non-JSON media types its successful answers are documented with (`/metrics`' text). */
  readonly otherSuccessTypes: readonly string[];
}

interface OpenApiDoc {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string }[];
        requestBody?: { content?: Record<string, { schema?: { properties?: object } }> };
        responses?: Record<string, { content?: Record<string, unknown> }>;
      }
    >
  >;
}

function operationsOf(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const content = op.requestBody?.content ?? {};
      const schema = Object.values(content)[0]?.schema;
      ops.push({
        method: method.toUpperCase(),
        path: p,
        queryNames: (op.parameters ?? []).filter((x) => x.in === "query").map((x) => x.name),
        bodyProps: Object.keys(schema?.properties ?? {}),
        hasBody: op.requestBody !== undefined || ["POST", "PUT", "PATCH"].includes(method),
        otherSuccessTypes: Object.entries(op.responses ?? {})
          .filter(([status]) => status.startsWith("2"))
          .flatMap(([, r]) => Object.keys(r.content ?? {}))
          .filter((type) => type !== "application/json"),
      });
    }
  }
  return ops;
}

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

function makeRequest(rand: Rand, op: Operation): FuzzRequest {
  const route = op.path.replace(/\{[^}]+\}/g, () => pick(rand, BAD_SEGMENTS));
  const query: string[] = [];
  for (const name of op.queryNames) {
    if (rand() < 0.5) query.push(`${name}=${pick(rand, BAD_QUERY_VALUES)}`);
    if (rand() < 0.1) query.push(`${name}=${pick(rand, BAD_QUERY_VALUES)}`); // repeated
  }
  if (rand() < 0.2) query.push(`unknown=${pick(rand, BAD_QUERY_VALUES)}`);
  if (rand() < 0.1) query.push("%ff=%fe");
  const headers: Record<string, string> = {};
  if (rand() < 0.9) headers.authorization = `Bearer ${admin}`;
  if (rand() < 0.1) headers["idempotency-key"] = pick(rand, ["", "k".repeat(300), "key-1"]);
  let body: string | undefined;
  if (op.hasBody && rand() < 0.9) {
    headers["content-type"] = pick(rand, [
      "application/json",
      "application/json",
      "application/json",
      "text/plain",
      "application/octet-stream",
    ]);
    const shape = Math.floor(rand() * 10);
    if (shape === 0) body = "null";
    else if (shape === 1) body = "[]";
    else if (shape === 2) body = "{";
    else if (shape === 3) body = "";
    else if (shape === 4) body = '"text"';
    else if (shape === 5) body = '{"__proto__":{"polluted":1},"constructor":{"prototype":{}}}';
    else {
      const obj: Record<string, unknown> = {};
      for (const prop of op.bodyProps) if (rand() < 0.6) obj[prop] = badValue(rand);
      if (rand() < 0.3) obj.unknownField = badValue(rand);
      body = JSON.stringify(obj);
    }
  }
  const q = query.length > 0 ? `?${query.join("&")}` : "";
  return {
    method: op.method,
    path: `${route}${q}`,
    headers,
    ...(body !== undefined ? { body } : {}),
  };
}

interface FuzzAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** Sends one request with the path exactly as given (fetch would normalise it). */
function send(req: FuzzRequest): Promise<FuzzAnswer> {
  return new Promise((resolve, reject) => {
    const r = http.request({
      host: "127.0.0.1",
      port,
      method: req.method,
      path: req.path,
      headers: {
        ...req.headers,
        ...(req.body !== undefined ? { "content-length": Buffer.byteLength(req.body) } : {}),
      },
      timeout: 10_000,
    });
    r.on("timeout", () => r.destroy(new Error("no answer in 10 s")));
    r.on("error", reject);
    r.on("response", (res) => {
      const contentType = String(res.headers["content-type"] ?? "");
      // An event stream that opened is a success that never ends: its head is the answer.
      if (contentType.startsWith("text/event-stream")) {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, contentType, text: "" });
        return;
      }
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType,
          text: Buffer.concat(parts).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    r.end(req.body);
  });
}

/** What is wrong with an answer, or undefined when it keeps the contract. */
function violation(answer: FuzzAnswer, op: Operation): string | undefined {
  if (answer.status >= 500) return `status ${answer.status}`;
  if (answer.contentType.startsWith("text/event-stream")) return undefined;
  if (answer.status < 300 && op.otherSuccessTypes.some((t) => answer.contentType.startsWith(t))) {
    return undefined;
  }
  if (!answer.contentType.startsWith("application/json")) {
    return answer.text === "" && answer.status === 204
      ? undefined
      : `content-type ${answer.contentType || "(none)"}`;
  }
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    return "body is not JSON";
  }
  if (answer.status >= 400 && !errorResponseSchema.safeParse(json).success) {
    return "error body is not the envelope";
  }
  return undefined;
}

describe("seeded fuzzing of the OpenAPI operations", () => {
  it(`never answers 5xx and always the JSON envelope (seed ${SEED})`, async () => {
    const doc = JSON.parse(
      (await send({ method: "GET", path: "/api/v1/openapi.json", headers: {} })).text,
    ) as OpenApiDoc;
    const ops = operationsOf(doc);
    expect(ops.length).toBeGreaterThan(20);
    const rand = prng(SEED);
    const failures: string[] = [];
    let sent = 0;
    for (const op of ops) {
      for (let i = 0; i < CASES; i++) {
        const req = makeRequest(rand, op);
        let problem: string | undefined;
        try {
          const answer = await send(req);
          problem = violation(answer, op);
          if (problem) problem += `: ${answer.text.slice(0, 300)}`;
        } catch (err) {
          problem = `no answer: ${(err as Error).message}`;
        }
        sent++;
        if (problem) {
          const body = req.body === undefined ? "" : ` body ${req.body.slice(0, 200)}`;
          failures.push(`${req.method} ${req.path.slice(0, 160)}${body} -> ${problem}`);
        }
      }
    }
    expect(sent).toBe(ops.length * CASES);
    // Server errors first: they matter most and the message shows only the first few.
    failures.sort((a, b) => Number(/-> status 5/.test(b)) - Number(/-> status 5/.test(a)));
    expect(
      failures,
      `replay with FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}; ${failures.length} of ${sent} requests broke the contract:\n${failures.slice(0, 30).join("\n")}`,
    ).toEqual([]);
  }, 120_000);
});
