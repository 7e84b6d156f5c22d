import type { SwaggerOptions } from "@fastify/swagger";
import {
  AETHERIUM_VERSION,
  execClientMessageSchema,
  execServerMessageSchema,
} from "@aetherium/types";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { z } from "zod";
import { operationIdFor } from "./operation-ids.js";

type Json = Record<string, unknown>;
type Operation = Json & { responses?: Record<string, Json> };

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

/** The envelope every error leaves in, referenced from every error response. */
const ERROR_SCHEMA_NAME = "ErrorEnvelope";

/** Tag descriptions shown by API reference viewers, in the order they list them. */
const TAGS = [
  { name: "health", description: "Liveness and what works (no key needed)." },
  {
    name: "sandboxes",
    description: "Create, list, stop, start, pause, resume and delete sandboxes.",
  },
  { name: "exec", description: "Run commands in a sandbox and read what they did." },
  { name: "files", description: "Read, write, list and delete files inside a sandbox." },
  { name: "tasks", description: "The queued work behind every state change." },
  { name: "workers", description: "The fleet of worker hosts, their capacity and state." },
  { name: "api keys", description: "Keys and their scopes (admin)." },
  { name: "events", description: "Live domain events over a WebSocket." },
  {
    name: "prompts",
    description: "Prompts to a workspace's agent, its session WebSocket and session history.",
  },
  { name: "metrics", description: "Prometheus metrics (no key needed)." },
];

/** What a 2xx means when the route's schema does not say it in its own words. */
const SUCCESS_DESCRIPTIONS: Readonly<Record<string, string>> = {
  "200": "Done: the result is in the body.",
  "201": "Created: the new resource is in the body.",
  "202": "Accepted: the work is queued; follow it through `taskId`.",
  "204": "Done; no body.",
};

/** Descriptions for answers that mean something particular on one operation. */
const RESPONSE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  "GET /api/v1/health 200": "Up; `status` is `degraded` when a worker or backend is missing.",
  "GET /api/v1/health 503":
    "A required dependency (database, queue or event bus) is down; `components` says which.",
  "POST /api/v1/vms 201": "`?wait=true`: the sandbox is running and its agent answers.",
  "POST /api/v1/vms 202":
    "Recorded and queued; with `?wait=true`, still not running when the wait ran out.",
  "DELETE /api/v1/vms/{id} 204": "Gone (`?wait=true`, or it had never been placed on a worker).",
  "POST /api/v1/vms/{id}/stop 200": "`?wait=true`: stopped.",
  "POST /api/v1/vms/{id}/start 200": "`?wait=true`: running again.",
  "POST /api/v1/vms/{id}/pause 200": "`?wait=true`: paused.",
  "POST /api/v1/vms/{id}/resume 200": "`?wait=true`: running again, its processes intact.",
  "POST /api/v1/vms/{id}/execute 200":
    "The command ran; a non-zero `exitCode` is a normal answer, not an error.",
  "POST /api/v1/vms/{id}/execute 202": "`?async=true`: queued; read it at `/executions/{id}`.",
  "GET /api/v1/vms 200": "A page of sandboxes, newest first.",
  "GET /api/v1/vms/{id} 200": "The sandbox.",
  "POST /api/v1/vms/{id}/timeout 200": "The sandbox with its new `expiresAt`.",
  "GET /api/v1/vms/{id}/executions 200": "A page of the sandbox's commands, newest first.",
  "GET /api/v1/executions/{id} 200": "The command's record (output bounded, as UTF-8 text).",
  "GET /api/v1/vms/{id}/files 200": "The file's bytes.",
  "PUT /api/v1/vms/{id}/files 200": "Written; the file's new size.",
  "GET /api/v1/vms/{id}/files/list 200": "The directory's entries.",
  "GET /api/v1/tasks 200": "A page of tasks, newest first.",
  "GET /api/v1/tasks/{id} 200": "The task.",
  "POST /api/v1/tasks/{id}/cancel 200": "The task, cancelled.",
  "GET /api/v1/workers 200": "A page of workers.",
  "GET /api/v1/workers/{id} 200": "The worker.",
  "POST /api/v1/workers/{id}/drain 200": "The worker, now draining: it takes no new sandboxes.",
  "POST /api/v1/workers/{id}/activate 200": "The worker, active again.",
  "GET /api/v1/cluster/stats 200": "Totals across the fleet and the depth of every queue.",
  "POST /api/v1/api-keys 201": "The key, and its `secret` shown this once.",
  "GET /api/v1/api-keys 200": "A page of keys, newest first (never their secrets).",
  "DELETE /api/v1/api-keys/{id} 204": "Revoked: the key fails on its next request.",
};

/** Errors any request can meet before a route runs (the connection's own limits). */
const CONNECTION_ERRORS: Readonly<Record<string, string>> = {
  "431": "bad_request: the request line and headers exceed 16 KiB",
};

/**
 * The WebSocket routes. OpenAPI has no WebSocket operation, so each is a `GET` whose answer is
 * `101 Switching Protocols`; the message formats are in `x-websocket` as JSON Schemas.
 */
const WEBSOCKETS: Readonly<Record<string, { description: string; extension: Json }>> = {
  "GET /api/v1/vms/{id}/exec": {
    description:
      "The WebSocket is open. Messages are JSON text frames; the server closes after `exit` or `error`.",
    extension: {
      subprotocols: ["aetherium.v1", "bearer.<api key>"],
      clientMessages: z.toJSONSchema(execClientMessageSchema, { io: "input" }),
      serverMessages: z.toJSONSchema(execServerMessageSchema, { io: "output" }),
    },
  },
  "GET /api/v1/events": {
    description:
      "The WebSocket is open. Each text frame is one event `{type, at, data}`; a client too far behind is closed with 1013.",
    extension: {
      subprotocols: ["aetherium.v1", "bearer.<api key>"],
      serverMessages: {
        type: "object",
        properties: {
          type: { type: "string", description: "`vm.running`, `task.failed`, `worker.offline`…" },
          at: { type: "string", format: "date-time" },
          data: { type: "object", description: "The entity the event is about." },
        },
        required: ["type", "at", "data"],
      },
    },
  },
};

/** Raw bytes: OpenAPI 3.1's way to say "a file, not JSON". */
const BYTES = { schema: { type: "string", contentMediaType: "application/octet-stream" } };

/** File transfers carry raw bytes, which the zod schemas cannot say. */
const BYTE_BODIES: Readonly<Record<string, Operation>> = {
  "GET /api/v1/vms/{id}/files": {
    responses: { "200": { content: { "application/octet-stream": BYTES } } },
  },
  "PUT /api/v1/vms/{id}/files": {
    requestBody: {
      required: true,
      description: "The file's bytes; at most the gateway's upload limit.",
      content: { "application/octet-stream": BYTES },
    },
  },
};

/** Errors a WebSocket route answers over HTTP, before the upgrade. */
const WEBSOCKET_ERRORS: Readonly<Record<string, string>> = {
  "400": "bad_request: invalid parameters, or a plain GET without `Upgrade: websocket`",
  "401": "unauthorized: no key, or a wrong or revoked one",
  "403": "forbidden: the key lacks the scope",
  "429": "rate_limited: retry after the Retry-After header",
};

/** `GET /metrics` is served outside the zod-typed routes; this is its entry. */
const METRICS_OPERATION: Operation = {
  tags: ["metrics"],
  summary: "Prometheus metrics (no key needed)",
  description:
    "The gateway's request durations by route and status, its process metrics, and the embedded worker's when there is one. Outside `/api/v1`.",
  security: [],
  responses: {
    "200": {
      description: "Prometheus text exposition format.",
      content: { "text/plain": { schema: { type: "string" } } },
    },
  },
};

/**
 * `@fastify/swagger` options for the gateway: the document's header, and the passes that make it
 * complete (WebSocket routes and `/metrics` included) and clean for a standard OpenAPI linter.
 */
export function openApiOptions(): SwaggerOptions {
  return {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Aetherium API",
        version: AETHERIUM_VERSION,
        description:
          "Sandboxes for commands, developer tools and AI coding agents. Every route but health and metrics needs `Authorization: Bearer <api key>`. The contract in prose is `spec/api.md` in the repository.",
      },
      // Relative: the document describes the gateway that serves it, wherever that is.
      servers: [{ url: "/", description: "The gateway serving this document" }],
      tags: TAGS,
      components: {
        securitySchemes: { apiKey: { type: "http", scheme: "bearer" } },
      },
      security: [{ apiKey: [] }],
    },
    transform: (input) => {
      // The WebSocket plugin hides its routes from the document; they are part of the API.
      const websocket = (input.route as { websocket?: boolean }).websocket === true;
      if (!websocket) return jsonSchemaTransform(input);
      const schema = { ...(input.schema as Json), hide: false };
      return jsonSchemaTransform({ ...input, schema });
    },
    transformObject: (documentObject) =>
      finishDocument(
        "openapiObject" in documentObject
          ? documentObject.openapiObject
          : documentObject.swaggerObject,
      ),
  };
}

/** Ids, descriptions, the shared error schema, WebSocket answers and `/metrics`. */
function finishDocument(document: object): Json {
  const doc = document as Json;
  const paths = { ...(doc.paths as Record<string, Record<string, Operation>>) };
  paths["/metrics"] = { get: METRICS_OPERATION, ...paths["/metrics"] };
  let errorSchema: Json | undefined;
  const finished: Record<string, Record<string, Operation>> = {};
  for (const [path, item] of Object.entries(paths)) {
    const out: Record<string, Operation> = {};
    for (const [method, op] of Object.entries(item)) {
      if (!(HTTP_METHODS as readonly string[]).includes(method)) {
        out[method] = op;
        continue;
      }
      const key = `${method.toUpperCase()} ${path}`;
      const responses: Record<string, Json> = {};
      const ws = WEBSOCKETS[key];
      if (ws) {
        responses["101"] = { description: ws.description };
        for (const [status, description] of Object.entries(WEBSOCKET_ERRORS)) {
          responses[status] = errorResponse(description);
        }
      }
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        // The plugin's placeholder for a route that declares no answers (the WebSocket routes).
        if (ws && status === "200") continue;
        responses[status] = describeResponse(key, status, response, (schema) => {
          errorSchema ??= schema;
        });
      }
      const bytes = BYTE_BODIES[key];
      for (const [status, response] of Object.entries(bytes?.responses ?? {})) {
        responses[status] = { ...responses[status], ...response };
      }
      const requestBody = bytes?.requestBody ?? op.requestBody;
      if (requestBody) {
        responses["413"] ??= errorResponse("payload_too_large: the body is over the limit");
      }
      for (const [status, description] of Object.entries(CONNECTION_ERRORS)) {
        responses[status] ??= errorResponse(description);
      }
      out[method] = dropEmptyAnyOf({
        ...op,
        ...(requestBody ? { requestBody } : {}),
        operationId: operationIdFor(method, path),
        ...(ws ? { "x-websocket": ws.extension } : {}),
        responses,
      }) as Operation;
    }
    finished[path] = out;
  }
  const components = doc.components as Json;
  return {
    ...doc,
    components: {
      ...components,
      schemas: {
        ...(components.schemas as Json),
        ...(errorSchema ? { [ERROR_SCHEMA_NAME]: errorSchema } : {}),
      },
    },
    paths: finished,
  };
}

/** A response with a real description; an error envelope becomes a reference to the shared one. */
function describeResponse(
  key: string,
  status: string,
  response: Json,
  foundErrorSchema: (schema: Json) => void,
): Json {
  const given = response.description;
  const description =
    RESPONSE_DESCRIPTIONS[`${key} ${status}`] ??
    (typeof given === "string" && given !== "Default Response" ? given : undefined) ??
    SUCCESS_DESCRIPTIONS[status] ??
    "See the body.";
  const content = response.content as Record<string, { schema?: Json }> | undefined;
  const schema = content?.["application/json"]?.schema;
  if (Number(status) >= 400 && schema && isErrorEnvelope(schema)) {
    const { description: _ignored, ...shared } = schema;
    foundErrorSchema(shared);
    return errorResponse(description);
  }
  return { ...response, description };
}

function errorResponse(description: string): Json {
  return {
    description,
    content: {
      "application/json": { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA_NAME}` } },
    },
  };
}

function isErrorEnvelope(schema: Json): boolean {
  const props = schema.properties as Json | undefined;
  return props !== undefined && "error" in props && "requestId" in props;
}

/**
 * zod's `unknown().nullable()` becomes `anyOf: [{}, {type: "null"}]`: the `{}` already allows
 * null, so the `anyOf` says nothing and linters flag it. Keep the node, drop the `anyOf`.
 */
function dropEmptyAnyOf(value: unknown): unknown {
  if (Array.isArray(value)) return (value as unknown[]).map(dropEmptyAnyOf);
  if (value === null || typeof value !== "object") return value;
  const node = value as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = dropEmptyAnyOf(v);
  const anyOf = out.anyOf;
  if (
    Array.isArray(anyOf) &&
    (anyOf.length === 0 ||
      (anyOf as unknown[]).some((s) => s !== null && typeof s === "object" && isEmpty(s)))
  ) {
    delete out.anyOf;
  }
  return out;
}

const isEmpty = (o: object): boolean => Object.keys(o).length === 0;
