/**
 * The two programs that start a microVM guest, as shell scripts:
 *
 * - the initramfs `/init` (busybox): loads the virtio modules the distribution kernel has as
 *   modules, brings up the network from the kernel command line when it names one, mounts the
 *   root disk and hands over to the root filesystem's init;
 * - `/sbin/aetherium-init` (bash, PID 1 of the guest): mounts what a sandbox expects, reads the
 *   sandbox's settings from the config disk, runs the guest agent on the agent port in a cgroup
 *   whose `pids.max` is the sandbox's process limit (as Docker's `PidsLimit` bounds a container)
 *   and restarts it if it dies, and powers off cleanly when the host asks on the control port.
 * @module
 */

/** The virtio-serial port names the host's QEMU command line creates and the guest uses. */
export const GUEST_PORTS = { agent: "aetherium.agent", control: "aetherium.control" } as const;

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

/** The guest's PID 1 in the root filesystem. */
export function rootInit(agentCommand: readonly string[]): string {
  const agent = agentCommand.map((a) => `'${a}'`).join(" ");
  return `#!/bin/bash
# PID 1 of an Aetherium microVM. bash waits for every child, so orphans are reaped.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root
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
if [ -b /dev/vdb ]; then
  head -c 1048576 /dev/vdb | tr -d '\\000' > /run/aetherium/config.sh
  set -a; . /run/aetherium/config.sh; set +a
  rm -f /run/aetherium/config.sh
fi
[ -n "$AETHERIUM_HOSTNAME" ] && echo "$AETHERIUM_HOSTNAME" > /proc/sys/kernel/hostname
unset AETHERIUM_HOSTNAME
# The sandbox's processes (the agent and all it starts) share one process limit; init and its
# control-port reader stay outside, so a fork bomb cannot keep the host from powering it off.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo +pids > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/sandbox
[ -n "$AETHERIUM_PIDS_LIMIT" ] && echo "$AETHERIUM_PIDS_LIMIT" > /sys/fs/cgroup/sandbox/pids.max
unset AETHERIUM_PIDS_LIMIT
poweroff_now() {
  kill -TERM -1 2>/dev/null; sleep 1; kill -KILL -1 2>/dev/null
  sync; mount -o remount,ro / 2>/dev/null; sync
  echo o > /proc/sysrq-trigger
}
trap poweroff_now TERM INT
( while :; do
    if read -r cmd < /dev/virtio-ports/${GUEST_PORTS.control}; then
      [ "$cmd" = poweroff ] && kill -TERM 1
    else
      sleep 1
    fi
  done ) &
cd /
while :; do
  ( echo $BASHPID > /sys/fs/cgroup/sandbox/cgroup.procs
    exec ${agent} --serial /dev/virtio-ports/${GUEST_PORTS.agent} ) &
  wait $!
  echo "aetherium-init: agent exited ($?), restarting" > /dev/console
  sleep 1
done
`;
}
