import type { Logger } from "@aetherium/common";
import {
  AgentAuthError,
  AgentConnectionError,
  AgentSocketRefusedError,
} from "../agent-client/agent-errors.js";
import type { AgentClient } from "../agent-client/agent-client.js";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import type { SandboxBackend } from "../backends/sandbox-backend.js";

/** How long a cached-connection miss waits for a running sandbox's agent. */
const REDIAL_TIMEOUT_MS = 5000;

/**
 * The worker's connections to its sandboxes' agents: one cached client per sandbox, dialled
 * with the sandbox's token, forgotten when it fails or closes so the next use redials.
 */
export class AgentConnections {
  readonly #clients = new Map<string, Promise<AgentClient>>();

  constructor(
    private readonly deps: { readonly backend: SandboxBackend; readonly logger: Logger },
  ) {}

  /** A connected agent client for a running sandbox (cached). */
  get(sandboxId: string): Promise<AgentClient> {
    return (
      this.#clients.get(sandboxId) ??
      this.#cache(sandboxId, this.dial(sandboxId, REDIAL_TIMEOUT_MS))
    );
  }

  /** Keeps a client dialled elsewhere (a create, a start, a revive) for the next use. */
  keep(sandboxId: string, client: AgentClient): void {
    void this.#cache(sandboxId, Promise.resolve(client));
  }

  /**
   * Connects to a sandbox's agent, which must prove it holds the sandbox's token: the socket
   * sits in a directory the sandbox writes to, and what answers there is only trusted once it
   * has. A refused socket or agent is logged loudly, since it means the sandbox tampered with it.
   */
  async dial(sandboxId: string, timeoutMs: number): Promise<AgentClient> {
    const { backend, logger } = this.deps;
    // The engine knows the token; a sandbox it cannot describe has no agent to reach either.
    const token = await backend.agentToken?.(sandboxId).catch((err: unknown) => {
      throw new AgentConnectionError(
        `cannot reach the agent of sandbox ${sandboxId}: ${(err as Error).message}`,
        { cause: err },
      );
    });
    try {
      return await waitForAgent(backend.agentSocketPath(sandboxId), timeoutMs, {
        ...(token === undefined ? {} : { token }),
        ...(backend.agentHandshake === undefined ? {} : { handshake: backend.agentHandshake }),
      });
    } catch (err) {
      if (err instanceof AgentAuthError || err instanceof AgentSocketRefusedError) {
        logger.error(
          { sandboxId, err: err.message },
          "refused to talk to the sandbox's agent socket: it is not that sandbox's agent",
        );
      }
      throw err;
    }
  }

  /** Closes and forgets the sandbox's connection, if there is one. */
  async drop(sandboxId: string): Promise<void> {
    const c = this.#clients.get(sandboxId);
    this.#clients.delete(sandboxId);
    if (c) (await c.catch(() => undefined))?.close();
  }

  /** Closes every connection. */
  async dropAll(): Promise<void> {
    for (const id of [...this.#clients.keys()]) await this.drop(id);
  }

  /** Caches a connection; one that fails or closes later is forgotten, so the next call redials. */
  #cache(sandboxId: string, client: Promise<AgentClient>): Promise<AgentClient> {
    this.#clients.set(sandboxId, client);
    const forget = (): void => {
      if (this.#clients.get(sandboxId) === client) this.#clients.delete(sandboxId);
    };
    client.then((c) => c.onClose(forget), forget);
    return client;
  }
}
