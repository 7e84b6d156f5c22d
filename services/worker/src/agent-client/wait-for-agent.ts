import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
import { AGENT_METHODS } from "@aetherium/types";
import { AgentClient } from "./agent-client.js";
import type { AgentClientOptions } from "./agent-connection.js";
import { AgentAuthError, AgentSocketRefusedError, AgentTimeoutError } from "./agent-errors.js";

/**
 * Connects to the agent at `socketPath` once it is up: retries connect + `agent.health` until
 * both work or `timeoutMs` has passed (a sandbox is booting and the socket may not exist yet).
 *
 * It watches the socket's directory (inotify): the agent's `listen()` creates the socket file and
 * then sets its mode, and each of those wakes the next attempt at once, instead of on the next
 * tick of a poll that would have to be very fine to be as quick. Polling stays as the safety net,
 * for a directory that cannot be watched (or does not exist yet) and for events that are missed.
 */
export async function waitForAgent(
  socketPath: string,
  timeoutMs: number,
  options: AgentClientOptions & { intervalMs?: number } = {},
): Promise<AgentClient> {
  const deadline = Date.now() + timeoutMs;
  const name = path.basename(socketPath);
  let woken = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(socketPath), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      woken = true;
      wake?.();
    });
    watcher.on("error", () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    // ENOENT or no inotify: poll only.
  }
  // With the watch, polls only catch what it misses, so they can start slower; without it, a
  // failed connect to a missing socket costs microseconds, so poll finely.
  let delay = options.intervalMs ?? (watcher === undefined ? 10 : 25);
  let lastError: unknown;
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      woken = false;
      let client: AgentClient | undefined;
      try {
        client = await AgentClient.connect(socketPath, {
          ...options,
          timeoutMs: Math.min(left, options.timeoutMs ?? 5000),
        });
        // With a token, connect's authentication already proved the agent answers.
        if (options.token === undefined) {
          await client.request(
            AGENT_METHODS.health,
            {},
            Math.max(1, Math.min(deadline - Date.now(), 5000)),
          );
        }
        return client;
      } catch (err) {
        client?.close();
        // Not the agent's socket, or not this sandbox's agent: retrying would only wait for the
        // sandbox to put things right.
        if (err instanceof AgentSocketRefusedError || err instanceof AgentAuthError) throw err;
        lastError = err;
      }
      if (woken) {
        // Something changed while connecting (the socket appeared, or its mode was set once the
        // agent listened): try again at once, but let the agent's event loop run first.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const wait = Math.min(delay, Math.max(0, deadline - Date.now()));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      delay = Math.min(Math.ceil(delay * 1.5), 250);
    }
  } finally {
    watcher?.close();
  }
  throw new AgentTimeoutError(
    `agent at ${socketPath} not ready after ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ""}`,
    { cause: lastError },
  );
}
