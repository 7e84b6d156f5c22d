import { describe, expect, it } from "vitest";
import { AUTO_BACKEND_PREFERENCE, chooseBackend } from "./choose-backend.js";

describe("chooseBackend", () => {
  it("takes the backend the request names, whatever the setting and the fleet", () => {
    expect(chooseBackend({ requested: "qemu", configured: "docker", offered: ["docker"] })).toBe(
      "qemu",
    );
    expect(chooseBackend({ requested: "docker", configured: "auto", offered: [] })).toBe("docker");
  });

  it("takes a configured backend as it is, even when the fleet does not offer it", () => {
    expect(chooseBackend({ configured: "firecracker", offered: ["docker"] })).toBe("firecracker");
    expect(chooseBackend({ configured: "qemu", offered: [] })).toBe("qemu");
  });

  it("resolves auto to firecracker, then docker, then qemu, as the fleet offers them", () => {
    expect(AUTO_BACKEND_PREFERENCE).toEqual(["firecracker", "docker", "qemu"]);
    expect(chooseBackend({ configured: "auto", offered: ["qemu", "docker", "firecracker"] })).toBe(
      "firecracker",
    );
    expect(chooseBackend({ configured: "auto", offered: ["qemu", "docker"] })).toBe("docker");
    expect(chooseBackend({ configured: "auto", offered: ["qemu"] })).toBe("qemu");
    expect(chooseBackend({ configured: "auto", offered: new Set(["firecracker" as const]) })).toBe(
      "firecracker",
    );
  });

  it("resolves auto to docker when no worker offers anything, so the create waits for one", () => {
    expect(chooseBackend({ configured: "auto", offered: [] })).toBe("docker");
  });
});
