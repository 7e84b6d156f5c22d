/**
 * `aether prompt <workspace> "<text>"`: sends a prompt to the workspace's agent and streams its
 * answer.
 * @module
 */
import type { Context } from "../context.js";
import { UsageError, parseKeyValues } from "../parse.js";
import { resolveWorkspace } from "./ws.js";

/** Flags of `aether prompt`. */
export interface PromptFlags {
  readonly env?: string[];
  readonly system?: string;
  readonly cwd?: string;
  readonly priority?: string;
}

/**
 * Sends the prompt (the words, or standard input when there are none and it is piped) over the
 * workspace's session and writes the answer as it arrives: the agent's text to stdout, its errors
 * to stderr, the queue position while it waits to stderr. Resolves with the agent's exit code (1
 * when it could not run, 130 when cancelled). Ctrl-C cancels the prompt. With `--json` the
 * finished prompt record is printed instead of the stream.
 */
export async function promptCommand(
  ctx: Context,
  workspace: string,
  words: readonly string[],
  flags: PromptFlags,
): Promise<number> {
  let text = words.join(" ");
  if (text.trim() === "" && !ctx.io.stdin.isTTY) text = await readAll(ctx);
  if (text.trim() === "") {
    throw new UsageError('give the prompt: aether prompt <workspace> "<text>" (or pipe it in)');
  }
  if (flags.cwd && !flags.cwd.startsWith("/"))
    throw new UsageError("--cwd must be an absolute path");
  let priority: number | undefined;
  if (flags.priority !== undefined) {
    priority = Number(flags.priority);
    if (!Number.isInteger(priority) || priority < 0 || priority > 10)
      throw new UsageError("--priority must be a whole number from 0 to 10");
  }
  const input = {
    prompt: text,
    ...(flags.env?.length ? { env: parseKeyValues(flags.env, "--env") } : {}),
    ...(flags.system ? { systemPrompt: flags.system } : {}),
    ...(flags.cwd ? { workingDirectory: flags.cwd } : {}),
    ...(priority !== undefined ? { priority } : {}),
  };
  const { id } = await resolveWorkspace(ctx, workspace);
  const ctl = new AbortController();
  const offs = (["SIGINT", "SIGTERM"] as const).map(
    (sig) => ctx.io.onSignal?.(sig, () => ctl.abort()) ?? (() => undefined),
  );
  try {
    let lastPosition: number | null = null;
    const prompt = await ctx.client.prompts.run(id, input, {
      signal: ctl.signal,
      onChunk: (chunk, stream) => {
        if (ctx.json) return;
        (stream === "stdout" ? ctx.io.stdout : ctx.io.stderr).write(chunk);
      },
      onStatus: (status, position) => {
        if (
          status === "pending" &&
          position !== null &&
          position > 1 &&
          position !== lastPosition
        ) {
          ctx.note(`queued: ${position - 1} prompt(s) ahead`);
        }
        lastPosition = position;
      },
    });
    if (ctx.json) ctx.printJson({ prompt });
    else if (prompt.status !== "completed" && prompt.error) ctx.note(`aether: ${prompt.error}`);
    if (prompt.status === "cancelled") return 130;
    return prompt.exitCode ?? 1;
  } finally {
    offs.forEach((off) => off());
  }
}

async function readAll(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}
