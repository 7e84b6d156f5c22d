import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { access, constants, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firecrackerBootArgs } from "../firecracker/firecracker-backend.js";
import { guestConfigDisk } from "./guest-config.js";
import {
  GUEST_AGENT_SOCKET,
  INIT_FUNCTIONS_BEGIN,
  INIT_FUNCTIONS_END,
  rootInit,
  vsockBridgeCommand,
} from "./guest-init.js";

const run = promisify(execFile);

const canExec = (file: string) =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
// The functions write under /run/aetherium as the guest's init does: each run gets a private
// mount namespace with its own /run, which needs root and unshare.
const missing = [
  ...(process.getuid?.() === 0 ? [] : ["root"]),
  ...((await canExec("/usr/bin/unshare")) ? [] : ["unshare (util-linux)"]),
  ...((await canExec("/usr/bin/socat")) ? [] : ["socat"]),
];
if (missing.length > 0) console.warn(`skipping guest init tests: missing ${missing.join(", ")}`);

/** The init's shell functions, as the image's `/sbin/aetherium-init` has them. */
function initFunctions(agentCommand: readonly string[]): string {
  const init = rootInit(agentCommand);
  const begin = init.indexOf(INIT_FUNCTIONS_BEGIN);
  const end = init.indexOf(INIT_FUNCTIONS_END);
  if (begin < 0 || end < begin) throw new Error("the init has no function markers");
  return init.slice(begin, end);
}

describe.skipIf(missing.length > 0)("the guest init's Firecracker mode", () => {
  let dir: string;
  // Stands in for the agent: records its argv and the environment it was given, then exits.
  const agentArgv = () => path.join(dir, "agent-argv");
  const agentShim = () => [
    "/bin/sh",
    "-c",
    `printf '%s\\n' "$@" > ${agentArgv()}; env > ${path.join(dir, "agent-env")}`,
    "agent",
  ];

  /** Runs `script` after the init's functions in bash, in a mount namespace with a fresh /run. */
  async function shell(script: string, timeout = 20_000) {
    const file = path.join(dir, "script.sh");
    await writeFile(
      file,
      `${initFunctions(agentShim())}\nmount -t tmpfs -o mode=0755 tmpfs /run\nmkdir -p /run/aetherium && chmod 700 /run/aetherium\n${script}\n`,
    );
    return run("unshare", ["--mount", "--propagation", "private", "bash", file], {
      timeout,
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "aeth-guest-init-"));
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("takes the vsock port from the command line Firecracker boots with, and none from QEMU's", async () => {
    // Firecracker appends its own arguments (the devices, the root disk) to the backend's.
    const firecracker = `${firecrackerBootArgs({
      tap: "aev0123456789ab",
      mac: "02:00:00:00:00:01",
      guestIp: "10.213.0.2",
      gateway: "10.213.0.1",
      prefix: 20,
      netmask: "255.255.240.0",
      kernelIpArg: "ip=10.213.0.2::10.213.0.1:255.255.240.0::eth0:off",
      dns: "10.213.0.1",
    })} virtio_mmio.device=4K@0xd0000000:5 root=/dev/vda rw`;
    const qemu =
      "console=ttyS0 reboot=t panic=-1 quiet ip=10.213.0.3::10.213.0.1:20::eth0:off:10.213.0.1";
    await writeFile(path.join(dir, "fc-cmdline"), `${firecracker}\n`);
    await writeFile(path.join(dir, "qemu-cmdline"), `${qemu}\n`);
    const { stdout } = await shell(
      `echo "fc=[$(vsock_port ${dir}/fc-cmdline)] qemu=[$(vsock_port ${dir}/qemu-cmdline)]"`,
    );
    expect(stdout.trim()).toBe("fc=[1024] qemu=[]");
  });

  it("hands the agent its token and the sandbox's environment from the config disk, and keeps no copy", async () => {
    const token = 'tok\'en with "quotes" and $dollars';
    const disk = guestConfigDisk({
      token,
      hostname: "sb-fc-1",
      env: { GREETING: "hello 'world'\nsecond line", EMPTY: "" },
      pidsLimit: 77,
    });
    await writeFile(path.join(dir, "config.img"), disk);
    const { stdout } = await shell(
      [
        `load_config ${dir}/config.img`,
        `echo "pids=$AETHERIUM_PIDS_LIMIT host=$AETHERIUM_HOSTNAME left=$(ls -A /run/aetherium | wc -l)"`,
        // The agent's own environment, as the init runs it (exec replaces this subshell).
        `( run_agent 1024 )`,
      ].join("\n"),
    );
    expect(stdout.trim()).toBe("pids=77 host=sb-fc-1 left=0");
    expect((await readFile(agentArgv(), "utf8")).trim().split("\n")).toEqual([
      "--socket",
      GUEST_AGENT_SOCKET,
    ]);
    const env = await readFile(path.join(dir, "agent-env"), "utf8");
    expect(env).toContain(`AETHERIUM_AGENT_TOKEN=${token}\n`);
    expect(env).toContain("GREETING=hello 'world'\nsecond line\n");
    expect(env).toContain("EMPTY=\n");
  });

  it("runs the agent on the virtio-serial port when the command line names no vsock port", async () => {
    await shell("( run_agent '' )");
    expect((await readFile(agentArgv(), "utf8")).trim().split("\n")).toEqual([
      "--serial",
      "/dev/virtio-ports/aetherium.agent",
    ]);
  });

  it("bridges the vsock port to the agent's socket with exactly the socat command, and socat accepts it", async () => {
    // A port no other test uses; the bridge listens on the host's vsock (listening needs no peer).
    const port = randomInt(20_000, 60_000);
    const { stdout } = await shell(
      [
        `run_vsock_bridge ${port} > ${dir}/bridge.log 2>&1 &`,
        "sleep 2",
        // socat exits at once on an address it rejects; alive after 2 s, it is listening.
        `pid=$(pgrep -f "VSOCK-LISTEN:${port}," | head -n 1)`,
        `[ -n "$pid" ] && tr '\\0' '\\n' < /proc/$pid/cmdline`,
        `kill %1; [ -n "$pid" ] && kill $pid`,
      ].join("\n"),
    );
    expect(stdout.trim().split("\n")).toEqual(vsockBridgeCommand(port));
    expect(vsockBridgeCommand(port)).toEqual([
      "socat",
      `VSOCK-LISTEN:${port},reuseaddr,fork`,
      "UNIX-CONNECT:/run/aetherium/agent.sock",
    ]);
  });
});
