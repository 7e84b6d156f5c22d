/**
 * `aether secret set|ls|rm [--workspace <ws>]`: global secrets, or one workspace's own. Values are
 * write-only.
 * @module
 */
import type { SecretMetadata } from "@aetherium/types";
import type { Context } from "../context.js";
import { age, table } from "../format/table.js";
import { UsageError } from "../parse.js";
import { readSecretValues } from "./secret-input.js";
import { resolveWorkspace } from "./ws.js";

/** Flags of `aether secret set`. */
export interface SecretSetFlags {
  readonly value?: string;
  readonly description?: string;
  readonly workspace?: string;
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
  const value = flags.value ?? (await readSecretValues(ctx, [name]))[0]!;
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
