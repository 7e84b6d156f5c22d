import { AGENT_TOKEN_ENV } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import type { SandboxSpec } from "../backends/sandbox-backend.js";
import { IMAGE_PATHS } from "../image/image-layout.js";
import {
  SANDBOX_CAP_ADD,
  SANDBOX_LABELS,
  containerCreateOptions,
  type ContainerPlan,
} from "./container-spec.js";

const spec: SandboxSpec = {
  sandboxId: "sbx_1",
  workerId: "worker-a",
  vcpus: 1.5,
  memoryMb: 512,
  env: { GREETING: "hello" },
  labels: { "aetherium.vm-name": "demo" },
};

const plan: ContainerPlan = {
  image: "aetherium/base:test",
  agentToken: "the-token",
  runDir: "/run/aetherium/sandboxes/sbx_1",
  network: "aetherium0",
  egressNetwork: "aetherium-eg0",
  defaultPidsLimit: 1024,
  diskLimit: true,
};

const allowList = {
  env: { HTTPS_PROXY: "http://10.0.0.1:3128" },
  labels: { "aetherium.egress-allow": "example.com" },
  resolvConf: "/run/aetherium/sandboxes/resolv.conf",
};

describe("containerCreateOptions", () => {
  it("limits CPU and memory, with no swap beyond the memory", () => {
    const hc = containerCreateOptions(spec, plan).HostConfig!;
    expect(hc.NanoCpus).toBe(1_500_000_000);
    expect(hc.Memory).toBe(512 * 1024 * 1024);
    expect(hc.MemorySwap).toBe(hc.Memory);
  });

  it("bounds the number of processes: the spec's limit, else the backend's default", () => {
    expect(containerCreateOptions(spec, plan).HostConfig!.PidsLimit).toBe(1024);
    expect(containerCreateOptions({ ...spec, pidsLimit: 64 }, plan).HostConfig!.PidsLimit).toBe(64);
  });

  it("drops every capability but the listed few, keeps seccomp, and lets setuid sudo work", () => {
    const hc = containerCreateOptions(spec, plan).HostConfig!;
    expect(hc.CapDrop).toEqual(["ALL"]);
    expect(hc.CapAdd).toEqual([...SANDBOX_CAP_ADD]);
    for (const dangerous of ["SYS_ADMIN", "NET_ADMIN", "NET_RAW", "MKNOD", "SYS_PTRACE"]) {
      expect(hc.CapAdd).not.toContain(dangerous);
    }
    // No `no-new-privileges` (setuid `sudo` must run for `user`) and never seccomp=unconfined
    // or another profile: Docker's default one applies. The bounding set is CapAdd.
    expect(hc.SecurityOpt).toEqual([]);
    expect(hc.Privileged).toBeUndefined();
  });

  it("runs an init as PID 1 and is never restarted by the engine", () => {
    const hc = containerCreateOptions(spec, plan).HostConfig!;
    expect(hc.Init).toBe(true);
    expect(hc.RestartPolicy).toEqual({ Name: "no" });
  });

  it("mounts only the run directory from the host, writable, and no engine socket", () => {
    const hc = containerCreateOptions(spec, plan).HostConfig!;
    expect(hc.Mounts).toEqual([
      { Type: "bind", Source: plan.runDir, Target: IMAGE_PATHS.runDir, ReadOnly: false },
    ]);
    expect(hc.Binds).toBeUndefined();
    expect(JSON.stringify(hc)).not.toContain("docker.sock");
  });

  it("mounts the allow-list resolver read-only over /etc/resolv.conf", () => {
    const hc = containerCreateOptions(
      { ...spec, egress: { allow: ["example.com"] } },
      { ...plan, egress: allowList },
    ).HostConfig!;
    expect(hc.Mounts).toContainEqual({
      Type: "bind",
      Source: allowList.resolvConf,
      Target: "/etc/resolv.conf",
      ReadOnly: true,
    });
    expect(hc.Mounts!.filter((m) => m.ReadOnly === false).map((m) => m.Target)).toEqual([
      IMAGE_PATHS.runDir,
    ]);
  });

  it("puts the sandbox on the network its egress policy names", () => {
    const mode = (s: SandboxSpec, p: ContainerPlan = plan) =>
      containerCreateOptions(s, p).HostConfig!.NetworkMode;
    expect(mode(spec)).toBe("aetherium0");
    expect(mode({ ...spec, egress: "allow-all" })).toBe("aetherium0");
    expect(mode({ ...spec, egress: "deny-all" })).toBe("none");
    expect(
      mode({ ...spec, egress: { allow: ["example.com"] } }, { ...plan, egress: allowList }),
    ).toBe("aetherium-eg0");
  });

  it("names the host after the sandbox and lists it in /etc/hosts even with no network", () => {
    expect(containerCreateOptions(spec, plan).Hostname).toBe(spec.sandboxId);
    const hosts = (s: SandboxSpec): unknown =>
      containerCreateOptions(s, plan).HostConfig!.ExtraHosts;
    // Without this, `sudo` warns "unable to resolve host" on every call in a deny-all sandbox.
    expect(hosts({ ...spec, egress: "deny-all" })).toEqual([`${spec.sandboxId}:127.0.1.1`]);
    // On a network Docker lists the container's address itself.
    expect(hosts({ ...spec, egress: "allow-all" })).toBeUndefined();
  });

  it("passes the env with the agent token last, so the sandbox's env cannot replace it", () => {
    const env = containerCreateOptions(
      { ...spec, env: { GREETING: "hello", [AGENT_TOKEN_ENV]: "forged" } },
      { ...plan, egress: allowList },
    ).Env!;
    expect(env).toContain("GREETING=hello");
    expect(env).toContain("HTTPS_PROXY=http://10.0.0.1:3128");
    expect(env.filter((e) => e.startsWith(`${AGENT_TOKEN_ENV}=`))).toEqual([
      `${AGENT_TOKEN_ENV}=the-token`,
    ]);
  });

  it("lets the sandbox's own env add to the proxy variables", () => {
    const env = containerCreateOptions(
      { ...spec, env: { HTTPS_PROXY: "http://mine:1" } },
      { ...plan, egress: allowList },
    ).Env!;
    expect(env.filter((e) => e.startsWith("HTTPS_PROXY="))).toEqual(["HTTPS_PROXY=http://mine:1"]);
  });

  it("labels the container as managed, with its sandbox and worker, over any spec label", () => {
    const options = containerCreateOptions(
      {
        ...spec,
        labels: { "aetherium.vm-name": "demo", [SANDBOX_LABELS.workerId]: "someone-else" },
      },
      { ...plan, egress: allowList },
    );
    expect(options.Labels).toEqual({
      "aetherium.vm-name": "demo",
      "aetherium.egress-allow": "example.com",
      [SANDBOX_LABELS.sandboxId]: "sbx_1",
      [SANDBOX_LABELS.workerId]: "worker-a",
      [SANDBOX_LABELS.managed]: "true",
    });
    expect(options.name).toBe("aetherium-sbx_1");
    expect(options.Image).toBe("aetherium/base:test");
  });

  it("asks for a disk size only when the spec has one and the engine's storage can", () => {
    const storage = (s: SandboxSpec, p: ContainerPlan = plan) =>
      containerCreateOptions(s, p).HostConfig!.StorageOpt;
    expect(storage(spec)).toBeUndefined();
    expect(storage({ ...spec, diskMb: 2048 })).toEqual({ size: "2048M" });
    expect(storage({ ...spec, diskMb: 2048 }, { ...plan, diskLimit: false })).toBeUndefined();
  });

  it("keeps the image's entrypoint (the agent) unless the spec replaces it", () => {
    expect(containerCreateOptions(spec, plan).Entrypoint).toBeUndefined();
    expect(containerCreateOptions({ ...spec, command: ["sleep", "60"] }, plan).Entrypoint).toEqual([
      "sleep",
      "60",
    ]);
  });

  it("keeps the root filesystem writable: a dev shell installs packages", () => {
    expect(containerCreateOptions(spec, plan).HostConfig!.ReadonlyRootfs).toBe(false);
  });
});
