/**
 * `aether cp`: copies a file into or out of a sandbox.
 * @module
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Context } from "../context.js";
import { UsageError, parseCpOperand } from "../parse.js";

/**
 * `aether cp <vm>:<path> <local>` or `aether cp <local> <vm>:<path>`. A local `-` is stdout or
 * stdin; a destination ending in `/` (or an existing local directory) keeps the source's name.
 */
export async function cpCommand(ctx: Context, from: string, to: string): Promise<number> {
  const src = parseCpOperand(from);
  const dst = parseCpOperand(to);
  if (src.kind === dst.kind) {
    throw new UsageError(
      src.kind === "vm"
        ? "copy between two sandboxes is not supported; copy through this machine"
        : "one side must be a sandbox path, written <vm>:/absolute/path",
    );
  }
  if (src.kind === "vm" && dst.kind === "local") {
    const sandbox = await ctx.sandbox(src.vm);
    const bytes = await sandbox.files.read(src.path);
    if (dst.path === "-") {
      ctx.io.stdout.write(bytes);
      return 0;
    }
    let target = path.resolve(ctx.io.cwd, dst.path);
    const isDir =
      dst.path.endsWith("/") ||
      (await stat(target).then(
        (s) => s.isDirectory(),
        () => false,
      ));
    if (isDir) target = path.join(target, path.posix.basename(src.path));
    await writeFile(target, bytes);
    ctx.output(
      { from, to: target, size: bytes.length },
      () => `copied ${bytes.length} bytes to ${target}`,
    );
    return 0;
  }
  if (src.kind === "local" && dst.kind === "vm") {
    const bytes =
      src.path === "-"
        ? await readStdin(ctx)
        : new Uint8Array(await readFile(path.resolve(ctx.io.cwd, src.path)));
    const sandbox = await ctx.sandbox(dst.vm);
    const target = dst.path.endsWith("/")
      ? `${dst.path}${src.path === "-" ? "stdin" : path.basename(src.path)}`
      : dst.path;
    const written = await sandbox.files.write(target, bytes);
    ctx.output(
      { from, to: `${sandbox.name}:${written.path}`, size: written.size },
      () => `copied ${written.size} bytes to ${sandbox.name}:${written.path}`,
    );
    return 0;
  }
  return 2;
}

async function readStdin(ctx: Context): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) chunks.push(Buffer.from(chunk));
  return new Uint8Array(Buffer.concat(chunks));
}
