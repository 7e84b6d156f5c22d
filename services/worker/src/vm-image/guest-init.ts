/**
 * The two programs that start a microVM guest, as shell scripts:
 *
 * - the initramfs `/init` (busybox): loads the virtio modules the distribution kernel has as
 *   modules, brings up the network from the kernel command line when it names one, mounts the
 *   root disk and hands over to the root filesystem's init;
 * - `/sbin/aetherium-init` (bash, PID 1 of the guest): mounts what a sandbox expects, reads the
 *   sandbox's settings from the config disk, runs the guest agent in a cgroup whose `pids.max` is
 *   the sandbox's process limit (as Docker's `PidsLimit` bounds a container) and restarts it if it
 *   dies, and powers off cleanly when the host asks.
 *
 * One image boots under either VMM; the kernel command line says which transport the agent has:
 * - QEMU: the agent serves the `aetherium.agent` virtio-serial port, and the host asks for a
 *   power-off on the `aetherium.control` port;
 * - Firecracker ({@link VSOCK_BOOT_ARG}`=<port>`): the agent serves its unix socket and `socat`
 *   bridges the vsock port to it (Node cannot listen on vsock); Firecracker's `SendCtrlAltDel`
 *   reaches init as SIGINT, and the guest ends with a reboot, which ends the Firecracker process.
 * @module
 */
import { shellQuote } from "@aetherium/common";

/** The virtio-serial port names the host's QEMU command line creates and the guest uses. */
export const GUEST_PORTS = { agent: "aetherium.agent", control: "aetherium.control" } as const;

/**
 * The kernel command-line argument that puts the guest's agent on vsock (`aetherium.vsock=<port>`,
 * a Firecracker VM); without it the agent serves virtio-serial (QEMU).
 */
export const VSOCK_BOOT_ARG = "aetherium.vsock";

/** Where the agent listens in a vsock guest: root's own directory, mode 0700. */
export const GUEST_AGENT_SOCKET = "/run/aetherium/agent.sock";

/**
 * The vsock bridge's command line: one `socat` child per host connection, each joined to the
 * agent's unix socket, where the agent asks for the sandbox's token as on every transport.
 */
export function vsockBridgeCommand(port: number | string): string[] {
  return ["socat", `VSOCK-LISTEN:${port},reuseaddr,fork`, `UNIX-CONNECT:${GUEST_AGENT_SOCKET}`];
}

/** Markers around the init's shell functions, so a test can run them on their own. */
export const INIT_FUNCTIONS_BEGIN = "# <aetherium-init functions>";
export const INIT_FUNCTIONS_END = "# </aetherium-init functions>";

/** Kernel modules the initramfs loads, in dependency order (missing or built-in ones are skipped). */
export const GUEST_MODULES: readonly string[] = [
  "kernel/drivers/virtio/virtio_ring.ko",
  "kernel/drivers/virtio/virtio.ko",
  "kernel/drivers/virtio/virtio_mmio.ko",
  "kernel/drivers/block/virtio_blk.ko",
  "kernel/drivers/char/virtio_console.ko",
  "kernel/net/core/failover.ko",
  "kernel/drivers/net/net_failover.ko",
  "kernel/drivers/net/virtio_net.ko",
  // vsock, the agent's transport under Firecracker (under QEMU they find no device and idle).
  "kernel/net/vmw_vsock/vsock.ko",
  "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko",
  "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko",
];

/**
 * The initramfs init. Network: the kernel's own `ip=` syntax,
 * `ip=<client>::<gateway>:<netmask or prefix>:<hostname>:<device>:off[:<dns>]`, read here
 * because the kernel is built without IP autoconfiguration.
 */
export const INITRAMFS_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod "/modules/$m" || echo "aetherium: insmod $m failed" >&2; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 1000 ]; do usleep 10000; i=$((i+1)); done
for arg in $(cat /proc/cmdline); do
  case "$arg" in ip=*)
    IFS=: read -r addr _srv gw mask _host dev _auto _dns <<EOF_IP
\${arg#ip=}
EOF_IP
    dev=\${dev:-eth0}
    case "$mask" in
      *.*) prefix=0; for o in $(echo "$mask" | tr . ' '); do
             while [ "$o" -gt 0 ]; do prefix=$((prefix + (o & 1))); o=$((o >> 1)); done
           done ;;
      *) prefix=\${mask:-24} ;;
    esac
    ip link set lo up
    ip link set "$dev" up
    ip addr add "$addr/$prefix" dev "$dev"
    [ -n "$gw" ] && ip route add default via "$gw" dev "$dev"
  ;; esac
done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "aetherium: cannot mount the root disk" >&2
  echo o > /proc/sysrq-trigger
fi
umount /sys
umount /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/aetherium-init
`;

function shellWords(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}

/** The guest's PID 1 in the root filesystem. */
export function rootInit(agentCommand: readonly string[]): string {
  const agent = shellWords(agentCommand);
  return `#!/bin/bash
# PID 1 of an Aetherium microVM. bash waits for every child, so orphans are reaped.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root
${INIT_FUNCTIONS_BEGIN}
# The agent's vsock port from the kernel command line (file $1), or nothing: serial transport.
vsock_port() {
  tr ' ' '\\n' < "$1" | sed -n 's/^aetherium\\.vsock=\\([0-9]\\{1,10\\}\\)$/\\1/p' | head -n 1
}
# Reads the config disk (device $1: shell assignments, NUL-padded) into the environment. Its
# copy lives in root's 0700 directory only while it is read.
load_config() {
  head -c 1048576 "$1" | tr -d '\\000' > /run/aetherium/config.sh
  set -a; . /run/aetherium/config.sh; set +a
  rm -f /run/aetherium/config.sh
}
# Runs the agent in the foreground on the transport the command line chose (vsock port $1).
run_agent() {
  if [ -n "$1" ]; then
    exec ${agent} --socket ${GUEST_AGENT_SOCKET}
  else
    exec ${agent} --serial /dev/virtio-ports/${GUEST_PORTS.agent}
  fi
}
# Bridges vsock port $1 to the agent's socket, restarting the bridge if it dies.
run_vsock_bridge() {
  while :; do
    socat "VSOCK-LISTEN:$1,reuseaddr,fork" ${shellWords(vsockBridgeCommand("").slice(2))}
    echo "aetherium-init: vsock bridge exited ($?), restarting" > /dev/console
    sleep 1
  done
}
${INIT_FUNCTIONS_END}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/aetherium && chmod 700 /run/aetherium
vsock=$(vsock_port /proc/cmdline)
# There is no udev: name the virtio-serial ports as udev would.
mkdir -p /dev/virtio-ports
for p in /sys/class/virtio-ports/*; do
  [ -f "$p/name" ] && ln -sf "../\${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"
done
# The overlay may be larger than the template (the sandbox's diskMb): grow the filesystem online.
resize2fs /dev/vda > /dev/null 2>&1
ip_arg=$(tr ' ' '\\n' < /proc/cmdline | sed -n 's/^ip=//p')
dns=$(echo "$ip_arg" | cut -d: -f8)
[ -n "$dns" ] && echo "nameserver $dns" > /etc/resolv.conf
# The config disk: the sandbox's token, hostname and environment, readable by root only.
[ -b /dev/vdb ] && load_config /dev/vdb
[ -n "$AETHERIUM_HOSTNAME" ] && echo "$AETHERIUM_HOSTNAME" > /proc/sys/kernel/hostname
unset AETHERIUM_HOSTNAME
# The sandbox's processes (the agent and all it starts) share one process limit; init, its
# control-port reader and the vsock bridge stay outside, so a fork bomb cannot keep the host from
# reaching the agent or powering the VM off.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo +pids > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/sandbox
[ -n "$AETHERIUM_PIDS_LIMIT" ] && echo "$AETHERIUM_PIDS_LIMIT" > /sys/fs/cgroup/sandbox/pids.max
unset AETHERIUM_PIDS_LIMIT
# QEMU powers off; Firecracker has no power-off, and ends when the guest reboots (reboot=k).
halt=o
[ -n "$vsock" ] && halt=b
poweroff_now() {
  kill -TERM -1 2>/dev/null; sleep 1; kill -KILL -1 2>/dev/null
  sync; mount -o remount,ro / 2>/dev/null; sync
  echo "$halt" > /proc/sysrq-trigger
}
trap poweroff_now TERM INT
if [ -n "$vsock" ]; then
  run_vsock_bridge "$vsock" &
else
  ( while :; do
      if read -r cmd < /dev/virtio-ports/${GUEST_PORTS.control}; then
        [ "$cmd" = poweroff ] && kill -TERM 1
      else
        sleep 1
      fi
    done ) &
fi
cd /
while :; do
  ( echo $BASHPID > /sys/fs/cgroup/sandbox/cgroup.procs
    run_agent "$vsock" ) &
  wait $!
  echo "aetherium-init: agent exited ($?), restarting" > /dev/console
  sleep 1
done
`;
}
