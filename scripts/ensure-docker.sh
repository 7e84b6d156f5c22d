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

if ! engine_up; then
  data_root=/var/lib/docker
  mkdir -p "$data_root"
  driver="${AETHERIUM_DOCKER_STORAGE_DRIVER:-}"
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

docker version --format 'docker engine {{.Server.Version}} (API {{.Server.APIVersion}}), storage driver '"$(docker info --format '{{.Driver}}')"
