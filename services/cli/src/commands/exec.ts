/**
 * `aether exec` (one command, output streamed live) and `aether shell` (an interactive terminal).
 * @module
 */
import type { ExecSession } from "@aetherium/sdk";
import type { Context } from "../context.js";
import { UsageError, commandFromWords, parseDurationSec, parseKeyValues } from "../parse.js";

/** Flags of `aether exec`. */
export interface ExecFlags {
  readonly env?: string[];
  readonly cwd?: string;
  readonly user?: string;
  readonly timeout?: string;
}

/** Copies `stdin` into the session until it ends, then closes the command's stdin. */
async function pumpStdin(ctx: Context, session: ExecSession): Promise<void> {
  try {
    for await (const chunk of ctx.io.stdin) session.write(chunk);
  } finally {
    session.closeStdin();
  }
}

/**
 * Forwards Ctrl-C / SIGTERM of this process to the command, so it can clean up; a second one kills
 * it (SIGKILL), so a command that ignores signals cannot hold the terminal. Returns the unsubscribe.
 */
function forwardSignals(ctx: Context, session: ExecSession): () => void {
  let received = 0;
  const offs = (["SIGINT", "SIGTERM"] as const).map(
    (sig) =>
      ctx.io.onSignal?.(sig, () => session.signal(received++ === 0 ? sig : "SIGKILL")) ??
      (() => undefined),
  );
  return () => offs.forEach((off) => off());
}

/**
 * `aether exec <vm> -- <cmd…>`: stdout to stdout, stderr to stderr as the command writes them,
 * stdin piped in when it is not a terminal; resolves with the command's exit code. With `--json`
 * the command runs to the end and its execution record is printed instead.
 */
export async function execCommand(
  ctx: Context,
  ref: string,
  words: readonly string[],
  flags: ExecFlags,
): Promise<number> {
  const spec = {
    ...commandFromWords(words),
    ...(flags.env?.length ? { env: parseKeyValues(flags.env, "--env") } : {}),
    ...(flags.cwd ? { cwd: flags.cwd } : {}),
    ...(flags.user ? { user: flags.user } : {}),
    ...(flags.timeout
      ? { timeoutMs: Math.ceil(parseDurationSec(flags.timeout, "--timeout") * 1000) }
      : {}),
  };
  if (flags.cwd && !flags.cwd.startsWith("/"))
    throw new UsageError("--cwd must be an absolute path");
  const sandbox = await ctx.sandbox(ref);
  if (ctx.json) {
    const stdin = ctx.io.stdin.isTTY ? undefined : await readAll(ctx);
    const execution = await sandbox.exec(spec.command, {
      ...spec,
      ...(stdin !== undefined && stdin.length > 0 ? { stdin } : {}),
    });
    ctx.printJson({ execution });
    return execution.exitCode ?? 1;
  }
  const session = await sandbox.spawn(spec.command, {
    ...spec,
    onStdout: (chunk) => ctx.io.stdout.write(chunk),
    onStderr: (chunk) => ctx.io.stderr.write(chunk),
  });
  const unforward = forwardSignals(ctx, session);
  if (ctx.io.stdin.isTTY) session.closeStdin();
  else void pumpStdin(ctx, session).catch(() => undefined);
  try {
    const exit = await session.wait();
    if (exit.timedOut)
      ctx.io.stderr.write(
        `aether: the command ran past --timeout ${flags.timeout} and was killed\n`,
      );
    return exit.exitCode;
  } finally {
    unforward();
  }
}

async function readAll(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) {
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Runs the user's login shell: bash where the image has it, else sh. */
export const SHELL_COMMAND =
  "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";

/**
 * `aether shell <vm>`: a terminal in the sandbox. The local terminal goes raw (keys pass through,
 * Ctrl-C included), follows window resizes, and is restored however the shell ends.
 */
export async function shellCommand(ctx: Context, ref: string): Promise<number> {
  const { stdin, stdout } = ctx.io;
  if (!stdin.isTTY || !stdin.setRawMode) {
    throw new UsageError(
      "aether shell needs a terminal; in scripts use `aether exec <vm> -- <command>`",
    );
  }
  const sandbox = await ctx.sandbox(ref);
  // A terminal that reports no size (0×0: a pty nobody sized, a serial console) gets 80×24.
  const size = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  const session = await sandbox.spawn(SHELL_COMMAND, {
    pty: size(),
    env: { TERM: ctx.io.env.TERM ?? "xterm-256color" },
    onStdout: (chunk) => stdout.write(chunk),
    onStderr: (chunk) => stdout.write(chunk),
  });
  const onKeys = (chunk: string | Uint8Array) => session.write(chunk);
  const offResize = ctx.io.onSignal?.("SIGWINCH", () => {
    const { cols, rows } = size();
    session.resize(cols, rows);
  });
  stdin.setRawMode(true);
  stdin.on?.("data", onKeys);
  stdin.resume?.();
  try {
    const exit = await session.wait();
    return exit.exitCode;
  } finally {
    stdin.off?.("data", onKeys);
    stdin.setRawMode(false);
    stdin.pause?.();
    offResize?.();
  }
}
