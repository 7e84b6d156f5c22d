/**
 * `aether keys create|ls|revoke`.
 * @module
 */
import type { ApiKey } from "@aetherium/types";
import type { Context } from "../context.js";
import { age, table } from "../format/table.js";
import { parseScopes } from "../parse.js";

/**
 * `aether keys create <name> [--scope read,write,admin] [--e2b]`: prints the secret, once. With
 * `--e2b` the secret is shaped `e2b_` + hex, for use as `E2B_API_KEY`.
 */
export async function keysCreate(
  ctx: Context,
  name: string,
  flags: { scope?: string; e2b?: boolean },
): Promise<number> {
  const created = await ctx.client.apiKeys.create({
    name,
    ...(flags.scope ? { scopes: parseScopes(flags.scope) } : {}),
    ...(flags.e2b ? { format: "e2b" as const } : {}),
  });
  if (ctx.json) {
    ctx.printJson(created);
    return 0;
  }
  ctx.print(created.secret);
  ctx.io.stderr.write(
    `created key ${created.apiKey.name} (${created.apiKey.id}) with scope ${created.apiKey.scopes.join(",")}; the secret above is shown this once\n`,
  );
  return 0;
}

/** `aether keys ls`. */
export async function keysList(ctx: Context): Promise<number> {
  // The list is paged like every other: follow it to the end.
  const items: ApiKey[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.client.apiKeys.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const now = new Date();
  ctx.output({ items, nextCursor: null }, () =>
    table(
      ["ID", "NAME", "SCOPES", "CREATED", "LAST USED"],
      items.map((k) => [
        k.id,
        k.name,
        k.scopes.join(","),
        `${age(k.createdAt, now)} ago`,
        k.lastUsedAt ? `${age(k.lastUsedAt, now)} ago` : "never",
      ]),
    ),
  );
  return 0;
}

/** `aether keys revoke <id>`. */
export async function keysRevoke(ctx: Context, id: string): Promise<number> {
  await ctx.client.apiKeys.revoke(id);
  ctx.output({ revoked: id }, () => `revoked key ${id}`);
  return 0;
}
