/**
 * What each service image is: which Debian root filesystem it starts from, what is added on top,
 * who it runs as and how it starts. Every image is made without a registry: a debootstrapped
 * Debian tree (the sandbox image pipeline's first layer) plus files from this checkout, imported
 * into the engine as one layer.
 * @module
 */
import { AETHERIUM_VERSION } from "@aetherium/types";
import type { AppEntry } from "./app-tree.js";

/** A Debian root filesystem several images share (one debootstrap each, cached). */
export interface RootfsVariant {
  readonly name: string;
  /** Packages on top of `minbase`. */
  readonly packages: readonly string[];
}

/** Root filesystems, by name. */
export const ROOTFS_VARIANTS = {
  // Node services: TLS roots for outbound HTTPS, iptables for the worker's sandbox firewall.
  node: { name: "node", packages: ["ca-certificates", "iptables"] },
  postgres: { name: "postgres", packages: ["postgresql"] },
  redis: { name: "redis", packages: ["redis-server"] },
  // nginx-light: the proxy and upstream modules, nothing else.
  lb: { name: "lb", packages: ["nginx-light"] },
} as const satisfies Record<string, RootfsVariant>;

/** Debian's multiarch directory for this machine's architecture. */
const MULTIARCH = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";

/** Removed from every image: documentation and message translations no service reads. */
export const COMMON_PRUNE: readonly string[] = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
];

/** The user the non-root Node services run as (made in the image, owns `AETHERIUM_HOME`). */
export const SERVICE_USER = { name: "aetherium", uid: 10001, gid: 10001 } as const;

/** Where the Node services keep their state inside an image (`AETHERIUM_HOME`). */
export const SERVICE_HOME = "/var/lib/aetherium";

/** Where the application tree lands in the Node images. */
export const APP_DIR = "/app";

/** One buildable image. */
export interface ServiceImageSpec {
  /** `aetherium image build --service <name>` and the image's repository `aetherium/<name>`. */
  readonly name: ServiceName;
  readonly rootfs: RootfsVariant;
  /** The workspace whose application tree (Node, the package, its prod deps) is added, if any. */
  readonly app: AppEntry | null;
  /** `USER` of the image; `root` where the process needs it (see {@link ServiceImageSpec.why}). */
  readonly user: string;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly exposedPorts: readonly number[];
  /** An executable script written into the image at `path`. */
  readonly script?: { readonly path: string; readonly text: string };
  /** Directories made in the image, owned by the image's user, for its state. */
  readonly stateDirs: readonly string[];
  /** What it needs from the host, when it runs as root. */
  readonly why?: string;
  /** Files removed from the rootfs copy: what package scripts made at build time that no one uses. */
  readonly prune: readonly string[];
}

/** The buildable images. */
export const SERVICE_NAMES = [
  "gateway",
  "worker",
  "postgres",
  "redis",
  "lb",
  "k8s-manager",
] as const;

/** What `aetherium cluster up` runs (the manager is for Kubernetes, not the local cluster). */
export const CLUSTER_SERVICE_NAMES = ["gateway", "worker", "postgres", "redis", "lb"] as const;

/** A name from {@link SERVICE_NAMES}. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Whether `name` is a buildable image. */
export function isServiceName(name: string): name is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(name);
}

/** The tag of a service image: `aetherium/<name>:<version>`. */
export function serviceImageTag(name: ServiceName, version: string = AETHERIUM_VERSION): string {
  return `aetherium/${name}:${version}`;
}

const NODE_ENTRY = ["/usr/local/bin/node", `${APP_DIR}/services/server/bin/aetherium.mjs`];

const NODE_ENV = {
  NODE_ENV: "production",
  AETHERIUM_HOME: SERVICE_HOME,
  AETHERIUM_LOG_FORMAT: "json",
};

// initdb on first start (data directory empty), then the server in the foreground. The password
// comes from the environment and never reaches the command line.
const POSTGRES_SCRIPT = `#!/bin/sh
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
: "\${PGDATA:=/var/lib/aetherium/postgres}"
: "\${PGPORT:=5432}"
: "\${PGLISTEN:=*}"
if [ -z "\${POSTGRES_PASSWORD:-}" ]; then
  echo "aetherium-postgres: set POSTGRES_PASSWORD" >&2
  exit 64
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=$(mktemp)
  printf '%s\\n' "$POSTGRES_PASSWORD" > "$pw"
  "$bin/initdb" -D "$PGDATA" -U postgres --pwfile="$pw" -E UTF8 --locale=C.UTF-8 \\
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pw"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
unset POSTGRES_PASSWORD
exec "$bin/postgres" -D "$PGDATA" -p "$PGPORT" -c listen_addresses="$PGLISTEN" \\
  -c unix_socket_directories=/tmp -c jit=off
`;

// No snapshots (the queue is rebuilt from PostgreSQL's tasks table); an append-only file in the
// volume keeps queued jobs across a restart of the container.
const REDIS_SCRIPT = `#!/bin/sh
set -eu
: "\${REDIS_PORT:=6379}"
: "\${REDIS_BIND:=0.0.0.0}"
if [ -z "\${REDIS_PASSWORD:-}" ]; then
  echo "aetherium-redis: set REDIS_PASSWORD" >&2
  exit 64
fi
conf=$(mktemp)
cat > "$conf" <<EOF
bind $REDIS_BIND
port $REDIS_PORT
protected-mode no
requirepass $REDIS_PASSWORD
dir /var/lib/aetherium/redis
appendonly yes
save ""
EOF
unset REDIS_PASSWORD
exec /usr/bin/redis-server "$conf"
`;

// Round robin over the gateways, WebSocket upgrades passed through, no buffering (exec output
// and uploads stream), no body limit (the gateway enforces its own).
const LB_SCRIPT = `#!/bin/sh
set -eu
: "\${LB_LISTEN:=8090}"
if [ -z "\${LB_UPSTREAMS:-}" ]; then
  echo "aetherium-lb: set LB_UPSTREAMS (host:port,host:port)" >&2
  exit 64
fi
dir=$(mktemp -d)
servers=""
for u in $(echo "$LB_UPSTREAMS" | tr ',' ' '); do servers="$servers server $u max_fails=1 fail_timeout=2s;"; done
cat > "$dir/nginx.conf" <<EOF
worker_processes 2;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  map \\$http_upgrade \\$connection_upgrade { default upgrade; '' close; }
  upstream gateways { $servers }
  server {
    listen $LB_LISTEN;
    client_max_body_size 0;
    location / {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Host \\$host;
      proxy_set_header Upgrade \\$http_upgrade;
      proxy_set_header Connection \\$connection_upgrade;
      proxy_set_header X-Forwarded-For \\$proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout;
    }
  }
}
EOF
exec /usr/sbin/nginx -c "$dir/nginx.conf" -g 'daemon off;'
`;

/** Every buildable image, by name. */
export const SERVICE_IMAGES: Readonly<Record<ServiceName, ServiceImageSpec>> = {
  gateway: {
    name: "gateway",
    rootfs: ROOTFS_VARIANTS.node,
    app: "services/server",
    user: SERVICE_USER.name,
    entrypoint: NODE_ENTRY,
    cmd: ["gateway"],
    env: NODE_ENV,
    exposedPorts: [8080],
    stateDirs: [SERVICE_HOME],
    prune: [],
  },
  worker: {
    name: "worker",
    rootfs: ROOTFS_VARIANTS.node,
    app: "services/server",
    user: "root",
    entrypoint: NODE_ENTRY,
    cmd: ["worker"],
    env: NODE_ENV,
    exposedPorts: [8081],
    stateDirs: [SERVICE_HOME],
    why:
      "the Docker backend drives the host's engine (its socket), mounts a bounded tmpfs per " +
      "sandbox run directory and installs iptables rules that shut the sandbox bridges out of " +
      "the host: root, the host's network namespace, CAP_SYS_ADMIN and CAP_NET_ADMIN",
    prune: [],
  },
  postgres: {
    name: "postgres",
    rootfs: ROOTFS_VARIANTS.postgres,
    app: null,
    user: "postgres",
    entrypoint: ["/usr/local/bin/aetherium-postgres"],
    cmd: [],
    env: { PGDATA: "/var/lib/aetherium/postgres", LANG: "C.UTF-8" },
    exposedPorts: [5432],
    script: { path: "/usr/local/bin/aetherium-postgres", text: POSTGRES_SCRIPT },
    stateDirs: ["/var/lib/aetherium/postgres"],
    // The package's post-install made a cluster nobody starts; the entrypoint makes its own.
    // JIT is off (see the entrypoint), so LLVM (over 100 MB) goes too.
    prune: [
      "var/lib/postgresql",
      "etc/postgresql",
      `usr/lib/${MULTIARCH}/libLLVM-14.so`,
      `usr/lib/${MULTIARCH}/libLLVM-14.so.1`,
      "usr/lib/postgresql/15/lib/bitcode",
      "usr/lib/postgresql/15/lib/llvmjit.so",
    ],
  },
  redis: {
    name: "redis",
    rootfs: ROOTFS_VARIANTS.redis,
    app: null,
    user: "redis",
    entrypoint: ["/usr/local/bin/aetherium-redis"],
    cmd: [],
    env: {},
    exposedPorts: [6379],
    script: { path: "/usr/local/bin/aetherium-redis", text: REDIS_SCRIPT },
    stateDirs: ["/var/lib/aetherium/redis"],
    prune: [],
  },
  lb: {
    name: "lb",
    rootfs: ROOTFS_VARIANTS.lb,
    app: null,
    user: "www-data",
    entrypoint: ["/usr/local/bin/aetherium-lb"],
    cmd: [],
    env: {},
    exposedPorts: [8090],
    script: { path: "/usr/local/bin/aetherium-lb", text: LB_SCRIPT },
    stateDirs: [],
    prune: [],
  },
  "k8s-manager": {
    name: "k8s-manager",
    rootfs: ROOTFS_VARIANTS.node,
    app: "services/k8s-manager",
    user: SERVICE_USER.name,
    entrypoint: ["/usr/local/bin/node", `${APP_DIR}/services/k8s-manager/dist/main.js`],
    cmd: [],
    env: { NODE_ENV: "production" },
    exposedPorts: [9090],
    stateDirs: [],
    prune: [],
  },
};
