import {
  ERROR_STATUS_BY_CODE,
  pageSchema,
  promptResponseSchema,
  promptSchema,
  sessionMessagesResponseSchema,
  sessionServerMessageSchema,
  submitPromptResponseSchema,
  workspaceSessionSchema,
  type Page,
  type Prompt,
  type PromptStatus,
  type SessionMessagesResponse,
  type SessionServerMessage,
  type SubmitPromptInput,
  type SubmitPromptResponse,
  type WorkspaceSession,
} from "@aetherium/types";
import { AbortError, NetworkError, errorFromCode } from "./errors.js";
import { listParam, pageQuery, type ListOptions } from "./list-options.js";
import { seg, type Transport } from "./transport.js";
import { WS_OPEN, type WebSocketLike } from "./websocket.js";

/** Filters of `client.prompts.list()`. */
export interface ListPromptsOptions extends ListOptions {
  /** Only prompts in one of these statuses. */
  readonly status?: PromptStatus | readonly PromptStatus[];
}

/** Options of `client.prompts.run()`. */
export interface RunPromptOptions {
  /** Each piece of the agent's answer as it is produced (redacted text). */
  readonly onChunk?: (text: string, stream: "stdout" | "stderr") => void;
  /** The prompt's state changes: queued (with its position), running. */
  readonly onStatus?: (status: PromptStatus, position: number | null, promptId: string) => void;
  /** Cancels the prompt (and stops waiting). */
  readonly signal?: AbortSignal;
}

/**
 * `client.prompts`: prompts to a workspace's agent (submit, list, get, cancel, wait), live runs over
 * the workspace's session WebSocket, and the stored session history.
 */
export class PromptsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Sends a prompt; it queues behind the workspace's other prompts. With `wait: true` resolves once
   * it has finished (or with its state when the server's wait limit passes first).
   */
  submit(
    workspaceId: string,
    input: SubmitPromptInput,
    options: { wait?: boolean; signal?: AbortSignal } = {},
  ): Promise<SubmitPromptResponse> {
    return this.#t.requestChecked(
      submitPromptResponseSchema,
      "POST",
      `/workspaces/${seg(workspaceId)}/prompts`,
      { body: input, query: { wait: options.wait ? "true" : undefined }, signal: options.signal },
    );
  }

  /** One prompt, with its answer so far; `wait: true` answers once it has finished. */
  async get(
    workspaceId: string,
    promptId: string,
    options: { wait?: boolean; signal?: AbortSignal } = {},
  ): Promise<Prompt> {
    const body = await this.#t.requestChecked(
      promptResponseSchema,
      "GET",
      `/workspaces/${seg(workspaceId)}/prompts/${seg(promptId)}`,
      { query: { wait: options.wait ? "true" : undefined }, signal: options.signal },
    );
    return body.prompt;
  }

  /** One page of the workspace's prompts, newest first. */
  list(workspaceId: string, options: ListPromptsOptions = {}): Promise<Page<Prompt>> {
    return this.#t.requestChecked(
      pageSchema(promptSchema),
      "GET",
      `/workspaces/${seg(workspaceId)}/prompts`,
      {
        query: { ...pageQuery(options), status: listParam(options.status) },
        signal: options.signal,
      },
    );
  }

  /** Cancels a queued or running prompt; a finished one gives `ConflictError`. */
  async cancel(
    workspaceId: string,
    promptId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<Prompt> {
    const body = await this.#t.requestChecked(
      promptResponseSchema,
      "POST",
      `/workspaces/${seg(workspaceId)}/prompts/${seg(promptId)}/cancel`,
      { signal: options.signal },
    );
    return body.prompt;
  }

  /** One page of the workspace's sessions, newest first. */
  sessions(workspaceId: string, options: ListOptions = {}): Promise<Page<WorkspaceSession>> {
    return this.#t.requestChecked(
      pageSchema(workspaceSessionSchema),
      "GET",
      `/workspaces/${seg(workspaceId)}/sessions`,
      { query: pageQuery(options), signal: options.signal },
    );
  }

  /** A session and its history (prompts sent, answers, errors), oldest first. */
  session(
    workspaceId: string,
    sessionId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<SessionMessagesResponse> {
    return this.#t.requestChecked(
      sessionMessagesResponseSchema,
      "GET",
      `/workspaces/${seg(workspaceId)}/sessions/${seg(sessionId)}`,
      { signal: options.signal },
    );
  }

  /**
   * Opens the workspace's session WebSocket; `onMessage` receives every server message. Send with
   * {@link PromptSession.send}.
   */
  async openSession(
    workspaceId: string,
    onMessage: (message: SessionServerMessage) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<PromptSession> {
    const socket = await this.#t.openSocket(
      `/workspaces/${seg(workspaceId)}/ws`,
      options.signal,
      `/workspaces/${seg(workspaceId)}/prompts?limit=1`,
    );
    return new PromptSession(socket, onMessage);
  }

  /**
   * Sends one prompt over a session and streams its answer to `onChunk`; resolves with the finished
   * prompt (check `status` and `exitCode`). Rejects with the API's error when the prompt is refused.
   */
  async run(
    workspaceId: string,
    input: SubmitPromptInput,
    options: RunPromptOptions = {},
  ): Promise<Prompt> {
    let session: PromptSession | undefined;
    let promptId: string | undefined;
    let settle!: { resolve: (p: Prompt) => void; reject: (e: Error) => void };
    const done = new Promise<Prompt>((resolve, reject) => (settle = { resolve, reject }));
    const onMessage = (m: SessionServerMessage) => {
      switch (m.type) {
        case "status":
          if (m.promptId && m.promptStatus) {
            promptId ??= m.promptId;
            if (m.promptId === promptId)
              options.onStatus?.(m.promptStatus, m.position ?? null, m.promptId);
          }
          return;
        case "chunk":
          if (m.promptId === promptId) options.onChunk?.(m.text, m.stream);
          return;
        case "response":
          if (m.prompt.id === promptId) settle.resolve(m.prompt);
          return;
        case "error":
          if (!m.promptId || m.promptId === promptId)
            settle.reject(errorFromCode(m.code, m.message, statusOf(m.code)));
          return;
        default:
          return;
      }
    };
    const onAbort = () => {
      if (promptId && session) session.send({ type: "cancel", promptId });
      else settle.reject(new AbortError());
    };
    try {
      session = await this.openSession(workspaceId, onMessage, options);
      session.onClose((reason) => settle.reject(new NetworkError(reason, "network", 0)));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      session.send({ type: "prompt", ...input });
      return await done;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      session?.close();
    }
  }
}

/** An open session WebSocket of a workspace. */
export class PromptSession {
  readonly #socket: WebSocketLike;
  readonly #onClose = new Set<(reason: string) => void>();
  #closed = false;

  /** @internal */
  constructor(socket: WebSocketLike, onMessage: (message: SessionServerMessage) => void) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let raw: unknown;
      try {
        raw = JSON.parse(event.data);
      } catch {
        return;
      }
      const parsed = sessionServerMessageSchema.safeParse(raw);
      if (parsed.success) onMessage(parsed.data);
    });
    socket.addEventListener("close", (event) => {
      if (this.#closed) return;
      this.#closed = true;
      const reason = `session closed (${event.code ?? 1006}${event.reason ? `: ${event.reason}` : ""})`;
      for (const fn of this.#onClose) fn(reason);
    });
  }

  /** Sends a client message (`prompt`, `cancel` or `ping`). */
  send(
    message:
      | ({ type: "prompt" } & SubmitPromptInput)
      | { type: "cancel"; promptId: string }
      | { type: "ping" },
  ): void {
    if (this.#socket.readyState !== WS_OPEN)
      throw new NetworkError("session is closed", "network", 0);
    this.#socket.send(JSON.stringify(message));
  }

  /** Calls `listener` once if the server or the network closes the session. */
  onClose(listener: (reason: string) => void): void {
    this.#onClose.add(listener);
  }

  /** Closes the session. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close(1000, "done");
  }
}

function statusOf(code: string): number {
  return (ERROR_STATUS_BY_CODE as Record<string, number | undefined>)[code] ?? 500;
}
