/**
 * Follows the engine's event stream for managed containers, so a worker learns at once when a
 * sandbox's container dies, is OOM-killed or is removed, whoever did it.
 * @module
 */
import type { Logger } from "@aetherium/common";
import type Docker from "dockerode";
import type { SandboxEvent, SandboxEventWatch } from "../backends/sandbox-backend.js";

/** Options of {@link watchDockerEvents}. */
export interface DockerEventWatchOptions {
  /** Labels a container must carry (`key=value`), all of them. */
  readonly labels: readonly string[];
  /** Label naming the sandbox a container is. */
  readonly sandboxLabel: string;
  /** Called with each event, one at a time and in order. */
  readonly onEvent: (event: SandboxEvent) => void;
  /**
   * Called after every (re)connection: events missed while disconnected are gone, so the
   * caller compares its records with the engine's list instead.
   */
  readonly onResync?: () => void;
  readonly logger?: Logger | undefined;
  /** First and longest wait before reconnecting; default 500 ms and 30 s. */
  readonly backoffMs?: { readonly min: number; readonly max: number };
}

const ACTIONS = ["die", "oom", "destroy"] as const;

/**
 * Subscribes to `die`, `oom` and `destroy` events of containers carrying `labels`, reconnecting
 * with exponential backoff whenever the stream ends or fails, until the returned watch is closed.
 */
export function watchDockerEvents(
  docker: Docker,
  options: DockerEventWatchOptions,
): SandboxEventWatch {
  const min = options.backoffMs?.min ?? 500;
  const max = options.backoffMs?.max ?? 30_000;
  let closed = false;
  let delay = min;
  let stream: NodeJS.ReadableStream | undefined;
  let timer: NodeJS.Timeout | undefined;

  const retry = (err?: unknown): void => {
    stream = undefined;
    if (closed) return;
    if (err) options.logger?.warn({ err, retryInMs: delay }, "docker event stream lost");
    timer = setTimeout(connect, delay);
    timer.unref();
    delay = Math.min(max, delay * 2);
  };

  function connect(): void {
    if (closed) return;
    docker
      .getEvents({
        filters: { type: ["container"], event: [...ACTIONS], label: [...options.labels] },
      })
      .then((s) => {
        if (closed) {
          destroy(s);
          return;
        }
        stream = s;
        delay = min;
        options.onResync?.();
        let buffered = "";
        s.on("data", (chunk: Buffer | string) => {
          buffered += chunk.toString();
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line) handle(line);
          }
        });
        let ended = false;
        const end = (err?: unknown): void => {
          if (ended) return;
          ended = true;
          retry(err ?? new Error("stream ended"));
        };
        s.on("end", () => end());
        s.on("close", () => end());
        s.on("error", (err: unknown) => end(err));
      })
      .catch((err: unknown) => retry(err));
  }

  function handle(line: string): void {
    let raw: {
      Action?: string;
      status?: string;
      Actor?: { ID?: string; Attributes?: Record<string, string> };
      time?: number;
    };
    try {
      raw = JSON.parse(line) as typeof raw;
    } catch {
      return;
    }
    const action = (raw.Action ?? raw.status ?? "") as SandboxEvent["action"];
    if (!ACTIONS.includes(action)) return;
    const attributes = raw.Actor?.Attributes ?? {};
    const sandboxId = attributes[options.sandboxLabel];
    if (!sandboxId) return;
    const code = attributes.exitCode;
    try {
      options.onEvent({
        sandboxId,
        action,
        ...(code !== undefined && /^\d+$/.test(code) ? { exitCode: Number(code) } : {}),
        at: new Date((raw.time ?? Date.now() / 1000) * 1000),
      });
    } catch (err) {
      options.logger?.warn({ err, sandboxId }, "sandbox event handler failed");
    }
  }

  connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (stream) destroy(stream);
      stream = undefined;
    },
  };
}

function destroy(stream: NodeJS.ReadableStream): void {
  (stream as unknown as { destroy?: () => void }).destroy?.();
}
