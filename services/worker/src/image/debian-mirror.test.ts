import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  FALLBACK_DEBIAN_MIRROR,
  detectDebianMirror,
  parseDeb822Sources,
  parseOneLineSources,
  pickMirror,
} from "./debian-mirror.js";

describe("debian mirror detection", () => {
  it("parses the one-line format, skipping deb-src, comments and options", () => {
    const sources = parseOneLineSources(
      [
        "# comment",
        "deb-src http://src.example/debian bookworm main",
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib # x",
      ].join("\n"),
    );
    expect(sources).toEqual([
      {
        uris: ["http://mirror.example/debian/"],
        suites: ["bookworm"],
        components: ["main", "contrib"],
      },
    ]);
    expect(pickMirror(sources, "bookworm")).toBe("http://mirror.example/debian");
  });

  it("parses deb822, ignoring disabled stanzas and other suites", () => {
    const sources = parseDeb822Sources(
      [
        "Types: deb",
        "URIs: http://off.example/debian",
        "Suites: bookworm",
        "Components: main",
        "Enabled: no",
        "",
        "Types: deb",
        "URIs: http://security.example/debian-security",
        "Suites: bookworm-security",
        "Components: main",
        "",
        "Types: deb deb-src",
        "URIs: http://deb.example/debian",
        "Suites: bookworm bookworm-updates",
        "Components: main",
      ].join("\n"),
    );
    expect(pickMirror(sources, "bookworm")).toBe("http://deb.example/debian");
    expect(pickMirror(sources, "trixie")).toBeUndefined();
  });

  it("reads /etc/apt-style directories and falls back when nothing matches", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "apt-"));
    await mkdir(path.join(dir, "sources.list.d"));
    await writeFile(
      path.join(dir, "sources.list.d", "other.sources.disabled"),
      "Types: deb\nURIs: http://ignored.example/debian\nSuites: bookworm\nComponents: main\n",
    );
    expect(await detectDebianMirror("bookworm", dir)).toBe(FALLBACK_DEBIAN_MIRROR);
    await writeFile(
      path.join(dir, "sources.list.d", "debian.sources"),
      "Types: deb\nURIs: http://local.example/debian\nSuites: bookworm\nComponents: main\n",
    );
    expect(await detectDebianMirror("bookworm", dir)).toBe("http://local.example/debian");
  });
});
