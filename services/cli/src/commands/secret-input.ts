/**
 * Reading secret values without echoing them or leaving them in shell history: a hidden prompt on
 * a terminal, stdin otherwise.
 * @module
 */
import type { Context } from "../context.js";
import type { InStream, OutStream } from "../io.js";
import { UsageError } from "../parse.js";

/** How long a hidden prompt waits for the value before giving up. */
const PROMPT_TIMEOUT_MS = 10 * 60_000;

/**
 * Reads one line from a terminal without echoing it: raw mode, keys as they are typed, Enter
 * ends it, Backspace edits, Ctrl-C or Ctrl-D cancels.
 */
async function promptHidden(stdin: InStream, stderr: OutStream, question: string): Promise<string> {
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

async function readStdin(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) {
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The values of the secrets `names`, kept out of shell history and process listings: typed at a
 * hidden prompt per name on a terminal; otherwise read from stdin, all of it for one name (one
 * trailing newline dropped), one line per name in order for several. An empty value is refused.
 */
export async function readSecretValues(ctx: Context, names: readonly string[]): Promise<string[]> {
  let values: string[];
  if (ctx.io.stdin.isTTY) {
    values = [];
    for (const name of names) {
      values.push(await promptHidden(ctx.io.stdin, ctx.io.stderr, `value of ${name} (hidden): `));
    }
  } else if (names.length === 1) {
    values = [(await readStdin(ctx)).replace(/\r?\n$/, "")];
  } else {
    values = (await readStdin(ctx)).replace(/\r?\n$/, "").split(/\r?\n/);
    if (values.length !== names.length) {
      throw new UsageError(
        `stdin has ${values.length} line(s) for ${names.length} secrets (${names.join(", ")}): give one value per line, in that order`,
      );
    }
  }
  const empty = names.find((_, i) => values[i] === "");
  if (empty !== undefined) throw new UsageError(`the value of secret ${empty} is empty`);
  return values;
}
