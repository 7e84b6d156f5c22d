#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, for the Docker sandbox backend and its
# tests. Idempotent: installs docker.io and debootstrap only when missing, starts dockerd only when
# `docker info` fails, and prints the engine version. Needs root. No systemd is assumed (CI
# machines and dev VMs here have none), so dockerd is started in the background by hand.
#
# Storage driver: overlay2 when the kernel can mount an overlay on the filesystem that holds
# /var/lib/docker (it can on this Debian 12 VM: ext4 backing, d_type on), else vfs. vfs works
# everywhere but copies every layer in full, so it is only the fallback (nested in a container,
# or on a backing filesystem overlay refuses). We probe with a real mount instead of trusting
# /proc/filesystems, because "overlay" is listed there even where mounting it fails.
# Override with AETHERIUM_DOCKER_STORAGE_DRIVER=vfs|overlay2.
#
# Disk limits: a sandbox's size (`diskMb`, `--storage-opt size`) is enforced only by overlay2 on
# XFS mounted with project quotas, or by the btrfs driver (qgroups). AETHERIUM_DOCKER_DISK_QUOTA:
#   auto (default)  the data root is XFS with project quotas when the kernel can: a sparse image
#                   file (80% of the free space, at most 256 GiB; grows as it fills, gives space
#                   back through discard) loop-mounted at /var/lib/aetherium/docker. Kernels built
#                   without XFS quota support (this VM's is one) keep /var/lib/docker, and the
#                   worker reports disk limits as not enforced.
#   btrfs           as auto, then btrfs when XFS cannot. Measured here it costs: TTI 1133 ms vs
#                   320 ms on overlay2, 49 vs 18 MiB idle PSS per sandbox (snapshots do not share
#                   the page cache of the image's files the way overlay2's lower layers do).
#   0               never; /var/lib/docker as is.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (installs packages and starts dockerd)"
  exit 1
fi

apt_updated=""
need_pkg() { # need_pkg <command> <debian package>
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  log "installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

need_pkg dockerd docker.io
need_pkg debootstrap debootstrap
# The docker CLI may come from elsewhere (/usr/local/bin/docker here); docker.io brings one too.

engine_up() { docker info >/dev/null 2>&1; }

probe_overlay() { # probe_overlay <dir on the filesystem of /var/lib/docker>
  local d
  d=$(mktemp -d "$1/.overlay-probe.XXXXXX") || return 1
  mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
  : >"$d/l/f"
  local ok=1
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    # Writing through the mount is what overlay2 does per container; a mount alone is not proof.
    if touch "$d/m/g" 2>/dev/null && [ -e "$d/u/g" ]; then ok=0; fi
    umount "$d/m" || true
  fi
  rm -rf "$d"
  return $ok
}

quota_root=/var/lib/aetherium/docker

fs_of() { findmnt -n -o FSTYPE,OPTIONS --mountpoint "$1" 2>/dev/null || true; }

# btrfs enforces qgroup limits only while its accounting is consistent: quotas turned on after
# data was written (dockerd does that on the first sized container) leave it inconsistent and
# the limits unenforced until a rescan. So: on before dockerd starts, a rescan (seconds), and the
# qgroups of subvolumes removed since dropped.
btrfs_quota_ready() {
  btrfs quota enable "$quota_root" || return 1
  btrfs quota rescan -w "$quota_root" >/dev/null || return 1
  btrfs qgroup clear-stale "$quota_root" >/dev/null 2>&1 || true
}

# Sets `driver` when $quota_root is (or can be made) a filesystem with per-container quotas.
setup_quota_root() { # each step checked: `set -e` does not apply inside a function called by `if`
  local mounted
  mounted=$(fs_of "$quota_root")
  case "$mounted" in
    xfs*prjquota* | xfs*pquota*) driver=overlay2; return 0 ;;
    btrfs*)
      if [ "${AETHERIUM_DOCKER_DISK_QUOTA:-auto}" != btrfs ]; then
        log "$quota_root is btrfs but AETHERIUM_DOCKER_DISK_QUOTA is not btrfs; not using it"
        return 1
      fi
      driver=btrfs
      btrfs_quota_ready
      return
      ;;
    "") ;;
    *) log "$quota_root holds a ${mounted%% *} filesystem without quotas"; return 1 ;;
  esac
  mkdir -p "$quota_root" || return 1
  local free_kb size_gb
  free_kb=$(df -Pk /var/lib/aetherium | awk 'NR == 2 { print $4 }') || return 1
  size_gb=$((free_kb * 8 / 10 / 1024 / 1024))
  [ "$size_gb" -gt 256 ] && size_gb=256
  if [ "$size_gb" -lt 8 ]; then
    log "less than 10 GiB free under /var/lib/aetherium: no data root with quotas"
    return 1
  fi
  local fs image
  local candidates=xfs
  [ "${AETHERIUM_DOCKER_DISK_QUOTA:-auto}" = btrfs ] && candidates="xfs btrfs"
  for fs in $candidates; do
    image=/var/lib/aetherium/docker-$fs.img
    if [ ! -s "$image" ]; then
      local pkg=xfsprogs
      [ "$fs" = btrfs ] && pkg=btrfs-progs
      command -v "mkfs.$fs" >/dev/null 2>&1 || need_pkg "mkfs.$fs" "$pkg" || continue
      truncate -s "${size_gb}G" "$image" || continue
      if ! "mkfs.$fs" -q "$image" >/dev/null 2>&1; then rm -f "$image"; continue; fi
    fi
    local opts=loop,discard
    [ "$fs" = xfs ] && opts=$opts,pquota
    if mount -o "$opts" "$image" "$quota_root" 2>/dev/null; then
      [ "$fs" = xfs ] && driver=overlay2 || driver=btrfs
      if [ "$fs" = btrfs ]; then btrfs_quota_ready; return; fi
      return 0
    fi
    # This kernel cannot (XFS without quota support refuses pquota): drop the image, try the next.
    log "this kernel cannot mount $fs with quotas"
    rm -f "$image"
  done
  return 1
}

if ! engine_up; then
  data_root=/var/lib/docker
  driver="${AETHERIUM_DOCKER_STORAGE_DRIVER:-}"
  if [ -z "$driver" ] && [ "${AETHERIUM_DOCKER_DISK_QUOTA:-1}" != "0" ]; then
    if setup_quota_root; then
      data_root=$quota_root
      log "data root $data_root ($(fs_of "$quota_root" | cut -d' ' -f1), driver $driver): sandbox disk limits are enforced"
    else
      driver=""
      log "no data root with quotas; sandbox disk limits will not be enforced"
    fi
  fi
  mkdir -p "$data_root"
  if [ -z "$driver" ]; then
    if probe_overlay "$data_root"; then driver=overlay2; else driver=vfs; fi
  fi
  log "starting dockerd (storage driver $driver, log /var/log/dockerd.log)"
  # A stale pid file from a dockerd killed hard stops the next one from starting.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  # Container logs are capped so a chatty sandbox cannot fill the disk.
  setsid dockerd \
    --host=unix:///var/run/docker.sock \
    --data-root="$data_root" \
    --storage-driver="$driver" \
    --log-driver=json-file --log-opt max-size=10m --log-opt max-file=2 \
    >>/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    engine_up && break
    sleep 1
  done
  if ! engine_up; then
    log "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:"
    tail -n 20 /var/log/dockerd.log >&2 || true
    exit 1
  fi
fi

docker version --format 'docker engine {{.Server.Version}} (API {{.Server.APIVersion}}), storage driver '"$(docker info --format '{{.Driver}}'), data root $(docker info --format '{{.DockerRootDir}}')"
