import type { Socket } from "node:net";
import type { Repositories } from "@aetherium/core";
import type { Logger } from "@aetherium/common";
import { E2B_ENVD_PORT, type ExecServerMessage } from "@aetherium/types";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import type { DataPlaneRouter } from "../data-plane/data-plane-router.js";
import { trafficTokenOpens } from "./access-token.js";

/** The label of a sandbox whose user ports need the traffic access token. */
export const PRIVATE_TRAFFIC_LABEL = "e2b.traffic";

/** `<port>-<sandboxId>.<any domain>`: the host `sandbox.getHost(port)` names. */
const HOST = /^(\d{1,5})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./i;

/** Exit code of the relay when nothing listens on the port. */
const NOT_OPEN = 97;

/**
 * The relay run inside the sandbox for one connection: bash's /dev/tcp joined to the exec's
 * stdin and stdout, so any backend (a container without a network, a microVM) is reached
 * through the agent, never through a host network path. It ends when the server closes.
 */
const relay = (port: number): string =>
  `exec 3<>/dev/tcp/127.0.0.1/${port} 2>/dev/null || exit ${NOT_OPEN}; ` +
  // A background job's stdin is /dev/null unless given: hand it the exec's own (fd 4).
  `exec 4<&0; cat <&4 >&3 & cat <&3; kill $! 2>/dev/null; exit 0`;

/** Headers that name the sandbox to the gateway; the server inside never sees them. */
const OWN_HEADERS = new Set(["e2b-sandbox-id", "e2b-sandbox-port", "e2b-traffic-access-token"]);

interface Target {
  readonly vmId: string;
  readonly port: number;
  /** The path the server inside the sandbox is asked for. */
  readonly path: string;
}

/**
 * A user-port request: wildcard mode (`Host: <port>-<sandboxId>.<domain>`, any path), or header
 * mode (`E2b-Sandbox-Id` and a port other than envd's in `E2b-Sandbox-Port`, under `/e2b`).
 */
function targetOf(req: FastifyRequest): Target | undefined {
  const host = HOST.exec(req.headers.host ?? "");
  // envd's port is the in-sandbox API, served by the gateway's own routes, not relayed.
  if (host && Number(host[1]) === E2B_ENVD_PORT) return undefined;
  if (host)
    return { port: Number(host[1]), vmId: (host[2] as string).toLowerCase(), path: req.url };
  const id = req.headers["e2b-sandbox-id"];
  const port = Number(req.headers["e2b-sandbox-port"] ?? E2B_ENVD_PORT);
  if (typeof id !== "string" || port === E2B_ENVD_PORT || !req.url.startsWith("/e2b")) {
    return undefined;
  }
  const rest = req.url.slice("/e2b".length);
  if (rest !== "" && !rest.startsWith("/") && !rest.startsWith("?")) return undefined;
  return { vmId: id, port, path: rest.startsWith("/") ? rest : `/${rest}` };
}

/**
 * Serves the sandboxes' own ports, as E2B's `sandbox.getHost(port)` promises: each HTTP request
 * or WebSocket is relayed, bytes as they are, to `127.0.0.1:<port>` inside the sandbox through
 * an exec of the data plane, so it works for every backend and egress policy. Public unless the
 * sandbox was created with `network.allowPublicTraffic: false`; then the request must carry
 * `e2b-traffic-access-token`. Registered before authentication: API keys are not asked for
 * here, as E2B does not ask for them. Each request gets its own connection (`Connection: close`).
 */
export function installE2bUserPorts(
  app: FastifyInstance,
  deps: { readonly repos: Repositories; readonly router: DataPlaneRouter; readonly logger: Logger },
): void {
  app.addHook("onRequest", async (req, reply) => {
    const target = targetOf(req);
    if (!target) return;
    if (target.port < 1 || target.port > 65_535) {
      return fail(reply, 400, `port ${target.port} is not a TCP port`);
    }
    const vm = await deps.repos.vms.get(target.vmId);
    if (!vm || vm.status === "deleted") {
      return fail(reply, 502, `sandbox ${target.vmId} not found`, target);
    }
    if (vm.status !== "running") {
      return fail(reply, 502, `sandbox ${target.vmId} is ${vm.status}, not running`, target);
    }
    if (vm.labels[PRIVATE_TRAFFIC_LABEL] === "private") {
      const token = req.headers["e2b-traffic-access-token"];
      if (typeof token !== "string" || !(await trafficTokenOpens(deps.repos, token, vm.id))) {
        return fail(
          reply,
          403,
          "this sandbox's ports need the e2b-traffic-access-token header (its trafficAccessToken)",
          target,
        );
      }
    }
    let ws: WebSocket;
    try {
      ws = await deps.router.openExec(vm.id);
    } catch (err) {
      return fail(
        reply,
        502,
        `sandbox ${vm.id} cannot be reached: ${(err as Error).message}`,
        target,
      );
    }
    reply.hijack();
    relayConnection(req, ws, target, deps.logger);
  });
}

/** E2B's answer for a port it cannot serve: JSON with the sandbox and port. */
function fail(reply: FastifyReply, status: number, message: string, target?: Target): FastifyReply {
  return reply
    .status(status)
    .header("content-type", "application/json")
    .send(
      JSON.stringify({
        code: status,
        message,
        ...(target ? { sandboxId: target.vmId, port: target.port } : {}),
      }),
    );
}

/** The request head as the server inside the sandbox should get it. */
function requestHead(req: FastifyRequest, path: string, upgrade: boolean): string {
  const lines = [`${req.raw.method ?? "GET"} ${path} HTTP/1.1`];
  const raw = req.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (OWN_HEADERS.has(lower)) continue;
    // One request per relay; Node has already undone a chunked body, which is chunked again below.
    if (!upgrade && (lower === "connection" || lower === "keep-alive")) continue;
    lines.push(`${name}: ${raw[i + 1] as string}`);
  }
  if (!upgrade) lines.push("Connection: close");
  return `${lines.join("\r\n")}\r\n\r\n`;
}

function relayConnection(req: FastifyRequest, ws: WebSocket, target: Target, logger: Logger): void {
  const socket: Socket = req.raw.socket;
  const upgrade = (req.headers.upgrade ?? "") !== "";
  const chunked = /chunked/i.test(String(req.headers["transfer-encoding"] ?? ""));
  let answered = false;
  let started = false;
  const pending: Buffer[] = [];
  const send = (data: Buffer): void => {
    if (data.length === 0) return;
    const msg = JSON.stringify({ type: "stdin", data: data.toString("base64") });
    if (started) ws.send(msg);
    else pending.push(Buffer.from(msg));
  };
  const finish = (): void => {
    if (!socket.destroyed) socket.end();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
  };
  const answer = (status: number, message: string): void => {
    if (answered || socket.destroyed) return finish();
    answered = true;
    const body = JSON.stringify({
      code: status,
      message,
      sandboxId: target.vmId,
      port: target.port,
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 502 ? "Bad Gateway" : "Error"}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    ws.close();
  };

  ws.on("message", (raw: Buffer) => {
    let msg: ExecServerMessage;
    try {
      msg = JSON.parse(raw.toString("utf8")) as ExecServerMessage;
    } catch {
      return;
    }
    switch (msg.type) {
      case "started":
        started = true;
        for (const m of pending.splice(0)) ws.send(m.toString("utf8"));
        break;
      case "stdout": {
        answered = true;
        if (!socket.destroyed) socket.write(Buffer.from(msg.data, "base64"));
        break;
      }
      case "exit":
        if (!answered && msg.exitCode === NOT_OPEN) {
          answer(502, `the sandbox is running but port ${target.port} is not open`);
        } else finish();
        break;
      case "error":
        if (!started)
          answer(502, `the sandbox could not relay port ${target.port}: ${msg.message}`);
        break;
      default:
        break;
    }
  });
  ws.on("close", () => finish());
  ws.on("error", (err) => logger.warn({ err, vmId: target.vmId }, "user-port relay failed"));
  socket.on("close", () => ws.close());
  socket.on("error", () => ws.close());

  const open = (): void => {
    ws.send(
      JSON.stringify({
        type: "start",
        command: "/bin/bash",
        args: ["-c", relay(target.port)],
        user: "root",
      }),
    );
    send(Buffer.from(requestHead(req, target.path, upgrade)));
    if (upgrade) {
      // The HTTP parser let go of the socket: what follows are the protocol's own bytes.
      socket.on("data", (d: Buffer) => send(d));
      socket.resume();
      return;
    }
    req.raw.on("data", (d: Buffer) => {
      if (!chunked) return send(d);
      send(Buffer.concat([Buffer.from(`${d.length.toString(16)}\r\n`), d, Buffer.from("\r\n")]));
    });
    req.raw.on("end", () => {
      if (chunked) send(Buffer.from("0\r\n\r\n"));
    });
  };
  if (ws.readyState === ws.OPEN) open();
  else ws.once("open", open);
}
