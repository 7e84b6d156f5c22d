/**
 * `aether secret set|ls|rm`: global secrets. Values are write-only.
 * @module
 */
import type { Context } from "../context.js";
import { age, table } from "../format/table.js";
import { UsageError } from "../parse.js";

/**
 * `aether secret set <NAME> [--value v]`: without `--value` the value is read from stdin (so it
 * stays out of shell history and process listings); one trailing newline is dropped.
 */
export async function secretSet(
  ctx: Context,
  name: string,
  flags: { value?: string; description?: string },
): Promise<number> {
  let value = flags.value;
  if (value === undefined) {
    if (ctx.io.stdin.isTTY) {
      throw new UsageError(
        "give the value on stdin (echo -n … | aether secret set NAME) or --value",
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.io.stdin) {
      chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk));
    }
    value = Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
  }
  if (value === "") throw new UsageError("the secret's value is empty");
  const secret = await ctx.client.secrets.set({
    name,
    value,
    ...(flags.description ? { description: flags.description } : {}),
  });
  ctx.output(secret, () => `set global secret ${secret.name} (key ${secret.keyId})`);
  return 0;
}

/** `aether secret ls`: names and metadata, never values. */
export async function secretList(ctx: Context): Promise<number> {
  const items = await ctx.client.secrets.list();
  const now = new Date();
  ctx.output({ items }, () =>
    table(
      ["NAME", "TYPE", "DESCRIPTION", "UPDATED"],
      items.map((s) => [s.name, s.type, s.description || "-", `${age(s.updatedAt, now)} ago`]),
    ),
  );
  return 0;
}

/** `aether secret rm <NAME...>`. */
export async function secretRemove(ctx: Context, names: readonly string[]): Promise<number> {
  for (const name of names) {
    await ctx.client.secrets.delete(name);
    ctx.note(`deleted global secret ${name}`);
  }
  if (ctx.json) ctx.printJson({ deleted: names });
  return 0;
}
