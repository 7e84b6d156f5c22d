/**
 * What every command needs: where the gateway is, which key to use, the client, and output.
 * @module
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { AetheriumClient, NotFoundError, type Sandbox } from "@aetherium/sdk";
import type { CliIo } from "./io.js";

/** Default gateway address, as `npm start` listens. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** Options every command accepts. */
export interface GlobalOptions {
  readonly json?: boolean;
  readonly url?: string;
  readonly apiKey?: string;
}

/** Where the key came from, for error hints. */
export type KeySource = "flag" | "env" | "file" | "none";

/**
 * The key to use: `--api-key`, else `AETHERIUM_API_KEY`, else the embedded admin key in
 * `$AETHERIUM_HOME/admin.key` (default `./.aetherium/admin.key`), so a newcomer's CLI works right
 * after `npm start` in the same folder.
 */
export function resolveApiKey(
  options: GlobalOptions,
  io: Pick<CliIo, "env" | "cwd">,
  readFile: (file: string) => string = (f) => readFileSync(f, "utf8"),
): { key: string | undefined; source: KeySource; file: string } {
  const home = io.env.AETHERIUM_HOME
    ? path.resolve(io.cwd, io.env.AETHERIUM_HOME)
    : path.join(io.cwd, ".aetherium");
  const file = path.join(home, "admin.key");
  if (options.apiKey) return { key: options.apiKey, source: "flag", file };
  if (io.env.AETHERIUM_API_KEY) return { key: io.env.AETHERIUM_API_KEY, source: "env", file };
  try {
    const key = readFile(file).trim();
    if (key) return { key, source: "file", file };
  } catch {
    // no embedded key here: requests go without one and a 401 explains how to pass one
  }
  return { key: undefined, source: "none", file };
}

/** `--url`, else `AETHERIUM_URL`, else {@link DEFAULT_URL}. */
export function resolveUrl(options: GlobalOptions, io: Pick<CliIo, "env">): string {
  return options.url ?? io.env.AETHERIUM_URL ?? DEFAULT_URL;
}

/** One command's environment. */
export class Context {
  /** The process around the command. */
  readonly io: CliIo;
  /** `--json`: results as one JSON document, no human text on stdout. */
  readonly json: boolean;
  /** The gateway's base URL. */
  readonly url: string;
  /** Where the API key came from (for error hints). */
  readonly keySource: KeySource;
  /** The embedded admin key file looked at. */
  readonly keyFile: string;
  /** The SDK client, with the URL and key. */
  readonly client: AetheriumClient;

  constructor(io: CliIo, options: GlobalOptions) {
    this.io = io;
    this.json = options.json ?? false;
    this.url = resolveUrl(options, io);
    const { key, source, file } = resolveApiKey(options, io);
    this.keySource = source;
    this.keyFile = file;
    this.client = new AetheriumClient({ url: this.url, ...(key ? { apiKey: key } : {}) });
  }

  /** Writes human text to stdout (nothing in `--json` mode). */
  print(text: string): void {
    if (!this.json) this.io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Writes the one JSON document of `--json` mode. */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** `--json` → the value as JSON, else the human text. */
  output(value: unknown, human: () => string): void {
    if (this.json) this.printJson(value);
    else this.print(human());
  }

  /** A note for humans on stderr (progress, confirmations that are not the result). */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(`${text}\n`);
  }

  /**
   * The sandbox called `ref`: an id, else a name (a live sandbox before a deleted one of the same
   * name). Throws `NotFoundError` naming both.
   */
  async sandbox(ref: string): Promise<Sandbox> {
    try {
      return await this.client.vms.get(ref);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    let deleted: string | undefined;
    for await (const vm of this.client.vms.iterate({ limit: 500 })) {
      if (vm.name !== ref) continue;
      if (vm.status !== "deleted") return this.client.vms.get(vm.id);
      deleted ??= vm.id;
    }
    if (deleted) return this.client.vms.get(deleted);
    throw new NotFoundError(`no sandbox with id or name "${ref}"`, "not_found", 404);
  }
}
