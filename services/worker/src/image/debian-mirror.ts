import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

/** Where debootstrap fetches packages from when this machine's apt sources name no usable mirror. */
export const FALLBACK_DEBIAN_MIRROR = "http://deb.debian.org/debian";

/** One `deb` source as apt reads it, from either the one-line or the deb822 format. */
export interface AptSource {
  readonly uris: readonly string[];
  readonly suites: readonly string[];
  readonly components: readonly string[];
}

/** Parses a one-line-format `sources.list`: `deb [opts] uri suite component...`. */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line.startsWith("deb ")) continue; // deb-src and blanks are of no use to debootstrap
    const words = line
      .slice(4)
      .replace(/\[[^\]]*\]/, "")
      .trim()
      .split(/\s+/);
    const [uri, suite, ...components] = words;
    if (uri === undefined || suite === undefined) continue;
    sources.push({ uris: [uri], suites: [suite], components });
  }
  return sources;
}

/** Parses a deb822 `.sources` file: stanzas of `Key: value` separated by blank lines. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#")) continue;
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (match?.[1] !== undefined) fields.set(match[1].toLowerCase(), match[2] ?? "");
    }
    const words = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
    if (!words("types").includes("deb")) continue;
    if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue;
    sources.push({ uris: words("uris"), suites: words("suites"), components: words("components") });
  }
  return sources;
}

/**
 * Picks the mirror that serves `suite`'s `main` component from a list of sources: the same place
 * this machine's own apt already trusts and reaches (a local proxy or snapshot included), which is
 * often the only Debian mirror a build host can reach at all.
 */
export function pickMirror(sources: readonly AptSource[], suite: string): string | undefined {
  for (const source of sources) {
    if (!source.suites.includes(suite) || !source.components.includes("main")) continue;
    const uri = source.uris.find((u) => /^https?:\/\//.test(u));
    if (uri !== undefined) return uri.replace(/\/+$/, "");
  }
  return undefined;
}

/**
 * Reads `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.{list,sources}` (files renamed to
 * anything else, such as `*.disabled`, are ignored as apt ignores them) and returns the mirror for
 * `suite`, or {@link FALLBACK_DEBIAN_MIRROR} when none is found.
 */
export async function detectDebianMirror(suite = "bookworm", aptDir = "/etc/apt"): Promise<string> {
  const sources: AptSource[] = [];
  const read = (file: string) => readFile(file, "utf8").catch(() => "");
  sources.push(...parseOneLineSources(await read(path.join(aptDir, "sources.list"))));
  const partsDir = path.join(aptDir, "sources.list.d");
  const parts = (await readdir(partsDir).catch(() => [] as string[])).sort();
  for (const name of parts) {
    const file = path.join(partsDir, name);
    if (name.endsWith(".list")) sources.push(...parseOneLineSources(await read(file)));
    else if (name.endsWith(".sources")) sources.push(...parseDeb822Sources(await read(file)));
  }
  return pickMirror(sources, suite) ?? FALLBACK_DEBIAN_MIRROR;
}
