import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { afterAll, describe, expect, it } from "vitest";
import { openQemuBackend, VM_IMAGE_BUILD_COMMAND } from "./open-qemu-backend.js";

describe("openQemuBackend", () => {
  const homes: string[] = [];
  afterAll(async () => {
    for (const home of homes) await rm(home, { recursive: true, force: true });
  });

  it("is not ready without a VM image, and says which command builds it", async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), "aeth-qemu-home-"));
    homes.push(home);
    const opened = await openQemuBackend({
      probe: { backend: "qemu", available: true, detail: "/usr/bin/qemu-system-x86_64 (TCG)" },
      config: loadConfig({ env: { AETHERIUM_HOME: home } }),
      image: "unused",
      logger: createLogger({ service: "test", level: "silent", format: "json" }),
    });
    expect(opened.ready).toBe(false);
    expect(opened.detail).toContain(VM_IMAGE_BUILD_COMMAND);
  });
});
