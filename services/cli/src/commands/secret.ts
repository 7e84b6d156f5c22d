/**
 * `aether secret set|ls|rm [--workspace <ws>]`: global secrets, or one workspace's own. Values are
 * write-only.
 * @module
 */
import type { SecretMetadata } from "@aetherium/types";
import type { Context } from "../context.js";
import type { InStream, OutStream } from "../io.js";
import { age, table } from "../format/table.js";
import { UsageError } from "../parse.js";
import { resolveWorkspace } from "./ws.js";

/** Flags of `aether secret set`. */
export interface SecretSetFlags {
  readonly value?: string;
  readonly description?: string;
  readonly workspace?: string;
}

/** How long a hidden prompt waits for the value before giving up. */
const PROMPT_TIMEOUT_MS = 10 * 60_000;

/**
 * Reads one line from a terminal without echoing it: raw mode, keys as they are typed, Enter
 * ends it, Backspace edits, Ctrl-C or Ctrl-D cancels.
 */
export async function promptHidden(
  stdin: InStream,
  stderr: OutStream,
  question: string,
): Promise<string> {
  if (!stdin.setRawMode || !stdin.on || !stdin.off) {
    throw new UsageError(
      "this terminal cannot read a hidden value: pipe it on stdin or use --value",
    );
  }
  stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume?.();
  let value = "";
  let listener: ((chunk: string | Uint8Array) => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(new UsageError("no value typed in time")), PROMPT_TIMEOUT_MS);
      listener = (chunk) => {
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
        for (const ch of text) {
          if (ch === "\r" || ch === "\n") return resolve(value);
          if (ch === "\u0003" || ch === "\u0004") return reject(new UsageError("cancelled"));
          if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on!("data", listener);
    });
  } finally {
    clearTimeout(timer);
    if (listener) stdin.off("data", listener);
    stdin.setRawMode(false);
    stdin.pause?.();
    stderr.write("\n");
  }
}

/**
 * `aether secret set <NAME> [--value v] [--workspace ws]`: without `--value` the value is read
 * from stdin (so it stays out of shell history and process listings), or typed at a hidden
 * prompt when stdin is a terminal; one trailing newline is dropped.
 */
export async function secretSet(
  ctx: Context,
  name: string,
  flags: SecretSetFlags,
): Promise<number> {
  let value = flags.value;
  if (value === undefined) {
    if (ctx.io.stdin.isTTY) {
      value = await promptHidden(ctx.io.stdin, ctx.io.stderr, `value of ${name} (hidden): `);
    } else {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.io.stdin) {
        chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk));
      }
      value = Buffer.concat(chunks)
        .toString("utf8")
        .replace(/\r?\n$/, "");
    }
  }
  if (value === "") throw new UsageError("the secret's value is empty");
  const body = {
    name,
    value,
    ...(flags.description ? { description: flags.description } : {}),
  };
  let secret: SecretMetadata;
  if (flags.workspace) {
    const w = await resolveWorkspace(ctx, flags.workspace);
    secret = await ctx.client.workspaces.setSecret(w.id, body);
    ctx.output(
      secret,
      () => `set secret ${secret.name} of workspace ${w.name} (key ${secret.keyId})`,
    );
  } else {
    secret = await ctx.client.secrets.set(body);
    ctx.output(secret, () => `set global secret ${secret.name} (key ${secret.keyId})`);
  }
  return 0;
}

/** `aether secret ls [--workspace ws]`: names and metadata, never values. */
export async function secretList(
  ctx: Context,
  flags: { workspace?: string } = {},
): Promise<number> {
  const items = flags.workspace
    ? await ctx.client.workspaces.listSecrets((await resolveWorkspace(ctx, flags.workspace)).id)
    : await ctx.client.secrets.list();
  const now = new Date();
  ctx.output({ items }, () =>
    table(
      ["NAME", "TYPE", "DESCRIPTION", "UPDATED"],
      items.map((s) => [s.name, s.type, s.description || "-", `${age(s.updatedAt, now)} ago`]),
    ),
  );
  return 0;
}

/** `aether secret rm <NAME...> [--workspace ws]`. */
export async function secretRemove(
  ctx: Context,
  names: readonly string[],
  flags: { workspace?: string } = {},
): Promise<number> {
  const w = flags.workspace ? await resolveWorkspace(ctx, flags.workspace) : undefined;
  for (const name of names) {
    if (w) {
      await ctx.client.workspaces.deleteSecret(w.id, name);
      ctx.note(`deleted secret ${name} of workspace ${w.name}`);
    } else {
      await ctx.client.secrets.delete(name);
      ctx.note(`deleted global secret ${name}`);
    }
  }
  if (ctx.json) ctx.printJson({ deleted: names });
  return 0;
}
