import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { detectBackends } from "./detect-backends.js";

const dirs: string[] = [];
async function tempDir() {
  const d = await mkdtemp(path.join(tmpdir(), "aet-detect-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe("detectBackends", () => {
  it("reports nothing available, with the next step, on a bare machine", async () => {
    const dir = await tempDir();
    const probes = await detectBackends({
      dockerSocket: path.join(dir, "docker.sock"),
      kvmDevice: path.join(dir, "kvm"),
      searchPath: dir,
    });
    expect(probes.map((p) => [p.backend, p.available])).toEqual([
      ["docker", false],
      ["firecracker", false],
      ["qemu", false],
    ]);
    expect(probes[0]?.detail).toMatch(/start dockerd/);
    expect(probes[2]?.detail).toMatch(/qemu-system-x86/);
  });

  it("does not trust a socket that does not answer Docker's ping", async () => {
    const dir = await tempDir();
    const socketPath = path.join(dir, "docker.sock");
    // Something listens, but it is not a Docker engine.
    const server = createServer((_req, res) => res.writeHead(404).end("nope"));
    await new Promise<void>((r) => server.listen(socketPath, r));
    try {
      const [docker] = await detectBackends({ dockerSocket: socketPath, searchPath: dir });
      expect(docker?.available).toBe(false);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("finds QEMU on PATH and says it runs without KVM", async () => {
    const dir = await tempDir();
    const qemu = path.join(dir, "qemu-system-x86_64");
    await writeFile(qemu, "#!/bin/sh\n");
    await chmod(qemu, 0o755);
    const probes = await detectBackends({
      dockerSocket: path.join(dir, "none.sock"),
      kvmDevice: path.join(dir, "kvm"),
      searchPath: dir,
    });
    const q = probes.find((p) => p.backend === "qemu");
    expect(q?.available).toBe(true);
    expect(q?.detail).toContain("TCG");
    expect(probes.find((p) => p.backend === "firecracker")?.available).toBe(false);
  });
});
