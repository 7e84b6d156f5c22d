/**
 * What the base image holds and where: shared by the image build and the backends that run it.
 * @module
 */

/** Packages on top of `minbase`: what a dev shell and the agent expect to find. */
export const BASE_PACKAGES: readonly string[] = [
  "bash",
  "ca-certificates",
  "git",
  "curl",
  "procps",
  "util-linux",
  // The unprivileged account below gets root through sudo, as E2B's base image does.
  "sudo",
  "python3",
  // A Firecracker microVM's agent is reached over vsock, which Node cannot listen on: socat
  // bridges the vsock port to the agent's unix socket (see `vm-image/guest-init.ts`).
  "socat",
];

/**
 * The unprivileged account every image has: AI agents and the e2b SDK's default user run as it.
 * Its home is where agent configuration (MCP servers, tool shims) is written.
 */
export const SANDBOX_USER = { name: "user", uid: 1000, home: "/home/user" } as const;

/** The Debian release the image is built from. */
export const BASE_SUITE = "bookworm";

/** Where files land inside the image. */
export const IMAGE_PATHS = {
  node: "/usr/local/bin/node",
  mise: "/usr/local/bin/mise",
  agent: "/opt/aetherium/agent.cjs",
  /** The agent's V8 startup snapshot, when the image has one (see `buildAgentSnapshot`). */
  agentSnapshot: "/opt/aetherium/agent.blob",
  /** Bind-mount point of the per-sandbox host directory that holds the agent socket. */
  runDir: "/run/aetherium",
  agentSocket: "/run/aetherium/agent.sock",
} as const;

/** Label on every image this module builds; its value is the tree key of the image's inputs. */
export const INPUT_HASH_LABEL = "aetherium.input-hash";
