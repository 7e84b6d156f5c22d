import { toErrorEnvelope } from "@aetherium/common";
import {
  formatZodError,
  sessionClientMessageSchema,
  type DomainEvent,
  type SessionServerMessage,
} from "@aetherium/types";
import type { WebSocket } from "ws";
import type { RouteDeps } from "../server/deps.js";
import { idParams, type Api } from "./api.js";
import { DEFAULT_TENANT } from "./prompts-tenant.js";

/** A client this far behind is dropped (close 1013) rather than buffered for. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** How often the server pings the client; a client that has not answered the previous one is dropped. */
const PING_INTERVAL_MS = 25_000;

/** Events held for a prompt this session is submitting, until its id is known. */
const MAX_EARLY_EVENTS = 1000;

/**
 * `GET /workspaces/{id}/ws`: a session with the workspace's agent. The client sends `prompt`,
 * `cancel` and `ping`; the server sends `status`, `chunk`, `response`, `error` and `pong`, and pings
 * at the WebSocket level. The prompts of a session run through the same queue as REST ones; its
 * transcript is stored (`GET /workspaces/{id}/sessions/{sessionId}`).
 */
export function registerPromptSessionRoute(api: Api, deps: RouteDeps): void {
  const { prompts, bus } = deps.runtime;

  api.get(
    "/api/v1/workspaces/:id/ws",
    {
      websocket: true,
      schema: {
        tags: ["prompts"],
        summary: "Session with the workspace's agent (WebSocket)",
        description:
          'Send `{"type":"prompt", prompt, env?, systemPrompt?, workingDirectory?, priority?}`, `{"type":"cancel", promptId}` or `{"type":"ping"}`. Receive `status` (first the session id and workspace status, then each prompt\'s state and queue position), `chunk` (the answer as it is produced), `response` (the finished prompt), `error` and `pong`. Browsers pass the key as subprotocol `bearer.<key>` next to `aetherium.v1`.',
        params: idParams,
      },
    },
    async (socket: WebSocket, req) => {
      const send = (msg: SessionServerMessage) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(1013, "client too slow; reconnect and re-read the prompt");
          return;
        }
        socket.send(JSON.stringify(msg));
      };
      const sendError = (err: unknown, promptId?: string) => {
        const env = toErrorEnvelope(err, req.id);
        send({
          type: "error",
          code: env.error.code,
          message: env.error.message,
          ...(promptId ? { promptId } : {}),
        });
      };
      // What the client sends while the session opens is handled once it is open.
      const early: Buffer[] = [];
      const hold = (data: Buffer) => early.push(data);
      socket.on("message", hold);
      let opened: Awaited<ReturnType<typeof prompts.openSession>>;
      try {
        opened = await prompts.openSession(DEFAULT_TENANT, req.params.id, {
          ip: req.ip,
          ...(req.headers["user-agent"] ? { userAgent: req.headers["user-agent"] } : {}),
        });
      } catch (err) {
        sendError(err);
        socket.close(1008, "workspace unavailable");
        return;
      }
      socket.off("message", hold);
      deps.streams.track(socket, req.principal?.keyId);
      const { session, workspace } = opened;
      const base = { sessionId: session.id, workspaceStatus: workspace.status };
      const mine = new Set<string>();
      // Events of prompts whose submit has not returned yet (the agent may already be running).
      const pending = new Map<string, DomainEvent[]>();
      let submitting = 0;

      const onEvent = (event: DomainEvent) => {
        const promptId =
          event.type === "prompt.output"
            ? event.data.promptId
            : "prompt" in event.data
              ? event.data.prompt.id
              : undefined;
        const workspaceId =
          event.type === "prompt.output"
            ? event.data.workspaceId
            : "prompt" in event.data
              ? event.data.prompt.workspaceId
              : undefined;
        if (!promptId || workspaceId !== workspace.id) return;
        if (!mine.has(promptId)) {
          if (submitting > 0) {
            const list = pending.get(promptId) ?? [];
            if (list.length < MAX_EARLY_EVENTS) list.push(event);
            pending.set(promptId, list);
          }
          return;
        }
        deliver(event);
      };
      const deliver = (event: DomainEvent) => {
        switch (event.type) {
          case "prompt.output":
            send({
              type: "chunk",
              promptId: event.data.promptId,
              stream: event.data.stream,
              text: event.data.text,
            });
            return;
          case "prompt.started":
            send({
              ...base,
              type: "status",
              promptId: event.data.prompt.id,
              promptStatus: "running",
              position: null,
            });
            return;
          case "prompt.completed":
          case "prompt.failed":
          case "prompt.cancelled": {
            const prompt = event.data.prompt;
            mine.delete(prompt.id);
            send({ type: "response", prompt });
            void prompts
              .addSessionMessage(session.id, {
                type: "response",
                content:
                  prompt.stdout + (prompt.error ? `\n[${prompt.status}: ${prompt.error}]` : ""),
                promptId: prompt.id,
                exitCode: prompt.exitCode,
              })
              .catch((err: unknown) => req.log.warn({ err }, "could not store a session message"));
            return;
          }
          default:
            return;
        }
      };
      const unsubscribe = bus.subscribe(["prompt.*"], onEvent);

      const handle = async (data: Buffer) => {
        let raw: unknown;
        try {
          raw = JSON.parse(data.toString("utf8"));
        } catch {
          send({ type: "error", code: "bad_request", message: "messages must be JSON" });
          return;
        }
        const parsed = sessionClientMessageSchema.safeParse(raw);
        if (!parsed.success) {
          const message = formatZodError(parsed.error);
          send({ type: "error", code: "bad_request", message });
          await prompts
            .addSessionMessage(session.id, { type: "error", content: message })
            .catch(() => undefined);
          return;
        }
        const msg = parsed.data;
        if (msg.type === "ping") {
          send({ type: "pong" });
          return;
        }
        if (msg.type === "cancel") {
          try {
            await prompts.cancel(DEFAULT_TENANT, workspace.id, msg.promptId);
          } catch (err) {
            sendError(err, msg.promptId);
          }
          return;
        }
        const { type: _type, ...body } = msg;
        submitting++;
        try {
          await prompts.addSessionMessage(session.id, { type: "prompt", content: body.prompt });
          const { prompt } = await prompts.submit(DEFAULT_TENANT, workspace.id, body, "session");
          mine.add(prompt.id);
          send({
            ...base,
            type: "status",
            promptId: prompt.id,
            promptStatus: prompt.status,
            position: prompt.position,
          });
          for (const event of pending.get(prompt.id) ?? []) deliver(event);
        } catch (err) {
          sendError(err);
          await prompts
            .addSessionMessage(session.id, {
              type: "error",
              content: toErrorEnvelope(err, req.id).error.message,
            })
            .catch(() => undefined);
        } finally {
          submitting--;
          if (submitting === 0) pending.clear();
        }
      };
      // One message at a time, in order: prompts queue in the order they were sent.
      let chain = Promise.resolve();
      socket.on("message", (data: Buffer) => {
        chain = chain.then(() => handle(data));
      });

      let alive = true;
      socket.on("pong", () => (alive = true));
      const pinger = setInterval(() => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, PING_INTERVAL_MS);
      pinger.unref();

      const closed = () => {
        clearInterval(pinger);
        unsubscribe();
        void prompts.closeSession(session.id).catch(() => undefined);
      };
      socket.once("close", closed);
      send({ ...base, type: "status" });
      for (const data of early) socket.emit("message", data, false);
    },
  );
}
