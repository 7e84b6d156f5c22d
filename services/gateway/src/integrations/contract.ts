import type { IntegrationName } from "@aetherium/types";

/** A provider's request as it arrived: headers (lower-case names) and the exact body bytes. */
export interface InboundRequest {
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body: signatures are over these bytes, so nothing may parse it first. */
  readonly body: Buffer;
}

/** An HTTP answer to a provider. */
export interface ProviderReply {
  readonly status: number;
  readonly body: unknown;
}

/** What a verified request asks Aetherium to do. */
export type IntegrationAction =
  | { readonly kind: "run"; readonly sandbox: string; readonly command: string }
  | { readonly kind: "prompt"; readonly workspace: string; readonly text: string }
  | { readonly kind: "ls" };

/** How a started action ended, as a provider shows it. */
export interface ActionResult {
  /** The command ran and exited 0, or the prompt finished with 0. */
  readonly ok: boolean;
  /** One line: what ran where and how it ended. */
  readonly summary: string;
  /** The tail of the output, bounded and redacted; empty when there was none. */
  readonly output: string;
  readonly taskId?: string;
  readonly promptId?: string;
}

/** Where a started action stands when the provider is answered. */
export interface StartedAction {
  readonly taskId?: string;
  readonly promptId?: string;
  /** A one-line description (`Running \`make\` on web-1`). */
  readonly description: string;
}

/** What an integration makes of one request. Every kind is recorded as a delivery. */
export type Decision =
  /** Not verified, stale, malformed: answered with the error envelope; nothing starts. */
  | {
      readonly kind: "refuse";
      readonly status: 400 | 401;
      readonly message: string;
      readonly verified: boolean;
      readonly event: string;
      readonly deliveryId?: string;
    }
  /** Answered at once without starting anything (`ping`, `PING`, a comment with no command). */
  | {
      readonly kind: "answer";
      readonly event: string;
      readonly deliveryId?: string;
      readonly outcome: "answered" | "ignored";
      readonly action?: string;
      readonly detail: string;
      readonly reply: ProviderReply;
    }
  /**
   * A verified request with a usage mistake (no sandbox configured, no such command): answered
   * through its channel, so the person who asked sees why; nothing starts.
   */
  | {
      readonly kind: "reject";
      readonly event: string;
      readonly deliveryId?: string;
      readonly action?: string;
      readonly message: string;
      readonly status: 400 | 404 | 503;
      readonly channel: ReplyChannel;
    }
  /** A verified request that asks for an action. */
  | {
      readonly kind: "act";
      readonly event: string;
      readonly deliveryId?: string;
      readonly action: IntegrationAction;
      /** Recorded as the delivery's action (`check` for a pull request's check command). */
      readonly actionName?: string;
      readonly channel: ReplyChannel;
    };

/**
 * How an integration talks back about one request: the immediate answer, and the result that
 * follows. Its methods must not throw for a provider that cannot be reached: they report it.
 */
export interface ReplyChannel {
  /** The immediate answer once the action has started (a provider may wait only seconds). */
  accepted(started: StartedAction): ProviderReply;
  /** The immediate answer to a usage mistake (unknown sandbox, no such command); nothing starts. */
  rejected(message: string, status: 400 | 404 | 503): Promise<ProviderReply>;
  /** An answer that needs no later result (`ls`). */
  answered(text: string): Promise<ProviderReply>;
  /** Called once the action is under way, before the answer (a pending commit status). */
  started?(started: StartedAction): Promise<void>;
  /** Delivers the result later, where the provider shows it. */
  deliver(result: ActionResult): Promise<void>;
}

/** One route of an integration. */
export interface IntegrationRoute {
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  /** Verifies `request` and says what to do with it; never throws for a provider's bad input. */
  handle(request: InboundRequest): Promise<Decision>;
}

/**
 * One provider: its routes, each of which verifies a request and turns it into an Aetherium
 * action. The shared part (recording, starting, acknowledging, delivering) is in
 * `register-integrations.ts`, so every provider behaves the same.
 */
export interface Integration {
  readonly name: IntegrationName;
  readonly routes: readonly IntegrationRoute[];
}

/**
 * Prompts to workspaces' AI agents: by default the control plane's prompt queue
 * (`promptSubmitterFor` in `prompt-submitter.ts`); a root may pass another.
 */
export interface PromptSubmitter {
  /**
   * Sends `text` to the agent of `workspaceRef` (an id or a name) in `tenant`; rejects with a
   * NotFoundError for a workspace that does not exist. `done` settles when the prompt has run.
   */
  submit(
    tenant: string,
    workspaceRef: string,
    text: string,
  ): Promise<{ promptId: string; done: Promise<{ output: string; exitCode: number }> }>;
}

/** `run <sandbox> <command…>`, `prompt <workspace> <text…>`, `ls`, or why not. */
export function parseCommandText(text: string): IntegrationAction | { readonly error: string } {
  const trimmed = text.trim();
  const [verb = "", ...rest] = trimmed.split(/\s+/);
  const after = (n: number) => {
    let s = trimmed;
    for (let i = 0; i < n; i++) s = s.replace(/^\S+\s*/, "");
    return s.trim();
  };
  switch (verb.toLowerCase()) {
    case "run": {
      const sandbox = rest[0];
      const command = after(2);
      if (!sandbox || !command) return { error: "usage: run <sandbox> <command>" };
      return { kind: "run", sandbox, command };
    }
    case "prompt": {
      const workspace = rest[0];
      const body = after(2);
      if (!workspace || !body) return { error: "usage: prompt <workspace> <text>" };
      return { kind: "prompt", workspace, text: body };
    }
    case "ls":
      return { kind: "ls" };
    case "":
      return {
        error: "no command given; try run <sandbox> <command>, prompt <workspace> <text> or ls",
      };
    default:
      return {
        error: `unknown command "${verb}"; try run <sandbox> <command>, prompt <workspace> <text> or ls`,
      };
  }
}
