import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Metadata every object the fake stores carries (the subset of ObjectMeta it keeps). */
export interface FakeObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}

/** A stored Kubernetes object: apiVersion, kind, metadata and whatever else it was given. */
export interface FakeObject {
  apiVersion: string;
  kind: string;
  metadata: FakeObjectMeta;
  [field: string]: unknown;
}

/** A pod the fake's stand-in ReplicaSet controller made or removed. */
export interface FakePodChange {
  readonly type: "added" | "deleted";
  readonly pod: FakeObject;
}

/** What the fake was asked, for tests that assert on the calls (never on timing). */
export interface FakeRequestRecord {
  readonly method: string;
  readonly path: string;
  readonly contentType?: string;
}

/** A running fake of the Kubernetes API server; `close()` ends open watches and the listener. */
export interface FakeKubernetesApiServer {
  /** `http://127.0.0.1:<port>`, the `server` of a kubeconfig cluster. */
  readonly url: string;
  /** Bearer token the fake requires (401 without it). */
  readonly token: string;
  /** Every request so far. */
  readonly requests: readonly FakeRequestRecord[];
  /** Adds or replaces a node; open node watches see ADDED or MODIFIED. */
  putNode(node: {
    name: string;
    labels?: Record<string, string>;
    allocatable?: Record<string, string>;
  }): FakeObject;
  /** Removes a node; open node watches see DELETED. */
  deleteNode(name: string): void;
  node(name: string): FakeObject | undefined;
  /** Adds a Deployment whose pods the fake creates and deletes as its scale changes. */
  putDeployment(d: {
    namespace: string;
    name: string;
    replicas: number;
    matchLabels: Record<string, string>;
  }): FakeObject;
  deployment(namespace: string, name: string): FakeObject | undefined;
  /** Adds a DaemonSet; the fake runs one pod per node whose labels match its node selector. */
  putDaemonSet(d: {
    namespace: string;
    name: string;
    matchLabels: Record<string, string>;
    nodeSelector: Record<string, string>;
  }): FakeObject;
  pods(namespace: string): FakeObject[];
  events(namespace: string): FakeObject[];
  lease(namespace: string, name: string): FakeObject | undefined;
  /** Called for each pod the stand-in controllers add or delete (after it is stored). */
  onPodChange(listener: (change: FakePodChange) => void | Promise<void>): void;
  /** Ends every open watch stream, as an API server does when a watch times out. */
  endWatches(): void;
  /** Changes a node without telling open watches (what a client misses while its watch is down). */
  putNodeQuietly(node: {
    name: string;
    labels?: Record<string, string>;
    allocatable?: Record<string, string>;
  }): void;
  /** Makes the next `n` requests matching `method` and a path prefix fail with `status`. */
  failNext(method: string, pathPrefix: string, status: number, n?: number): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function matches(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector
    .split(",")
    .filter(Boolean)
    .every((term) => {
      const [k, v] = term.split("=");
      return v === undefined ? labels?.[k!] !== undefined : labels?.[k!] === v;
    });
}

function status(code: number, reason: string, message: string): Json {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

/**
 * A local HTTP server speaking the Kubernetes API's documented wire format (JSON over HTTP,
 * `application/merge-patch+json` patches, `?watch=true` streams of `{type, object}` lines,
 * `metav1.Status` errors, optimistic concurrency on `metadata.resourceVersion`) for the resources
 * Aetherium's manager uses: nodes (list, watch, patch), deployments and their `scale`
 * subresource, daemonsets, pods (list, patch), coordination.k8s.io leases and core/v1 events.
 * Two stand-in controllers keep pods in line: a Deployment's pods follow its replicas (removing
 * the lowest `controller.kubernetes.io/pod-deletion-cost` first, as the ReplicaSet controller
 * does) and a DaemonSet runs one pod per matching node.
 */
export async function startFakeKubernetesApiServer(): Promise<FakeKubernetesApiServer> {
  const token = randomBytes(12).toString("hex");
  let version = 1;
  const nextVersion = () => String(++version);
  const nodes = new Map<string, FakeObject>();
  const deployments = new Map<string, FakeObject>();
  const daemonSets = new Map<string, FakeObject>();
  const pods = new Map<string, FakeObject>();
  const leases = new Map<string, FakeObject>();
  const events: FakeObject[] = [];
  const requests: FakeRequestRecord[] = [];
  const nodeWatchers = new Set<ServerResponse>();
  const podListeners: ((c: FakePodChange) => void | Promise<void>)[] = [];
  const failures: { method: string; prefix: string; status: number; left: number }[] = [];
  let podSeq = 0;

  const key = (ns: string, name: string) => `${ns}/${name}`;
  const emitNode = (type: "ADDED" | "MODIFIED" | "DELETED", node: FakeObject) => {
    const line = `${JSON.stringify({ type, object: node })}\n`;
    for (const w of nodeWatchers) w.write(line);
  };
  const emitPod = (change: FakePodChange) => {
    for (const l of podListeners) void Promise.resolve(l(change)).catch(() => undefined);
  };

  const addPod = (ns: string, owner: string, labels: Record<string, string>, nodeName?: string) => {
    const name = `${owner}-${(++podSeq).toString(36).padStart(5, "0")}`;
    const pod: FakeObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: ns,
        uid: randomBytes(8).toString("hex"),
        resourceVersion: nextVersion(),
        labels: { ...labels },
        annotations: { "fake.aetherium.dev/owner": owner },
        creationTimestamp: new Date().toISOString(),
      },
      spec: nodeName ? { nodeName } : {},
      status: { phase: "Running" },
    };
    pods.set(key(ns, name), pod);
    emitPod({ type: "added", pod });
  };
  const deletePod = (pod: FakeObject) => {
    pods.delete(key(pod.metadata.namespace!, pod.metadata.name));
    emitPod({ type: "deleted", pod });
  };
  const ownedPods = (ns: string, owner: string) =>
    [...pods.values()].filter(
      (p) =>
        p.metadata.namespace === ns &&
        p.metadata.annotations?.["fake.aetherium.dev/owner"] === owner,
    );

  /** The ReplicaSet controller's part: pods follow spec.replicas. */
  const reconcileDeployment = (d: FakeObject) => {
    const ns = d.metadata.namespace!;
    const spec = d.spec as { replicas: number; selector: { matchLabels: Record<string, string> } };
    const owned = ownedPods(ns, d.metadata.name);
    for (let i = owned.length; i < spec.replicas; i++)
      addPod(ns, d.metadata.name, spec.selector.matchLabels);
    if (owned.length > spec.replicas) {
      const cost = (p: FakeObject) =>
        Number(p.metadata.annotations?.["controller.kubernetes.io/pod-deletion-cost"] ?? 0);
      const victims = [...owned]
        .sort((a, b) => cost(a) - cost(b))
        .slice(0, owned.length - spec.replicas);
      for (const p of victims) deletePod(p);
    }
    d.status = { replicas: spec.replicas, readyReplicas: spec.replicas };
  };

  /** The DaemonSet controller's part: one pod per node matching the node selector. */
  const reconcileDaemonSets = () => {
    for (const ds of daemonSets.values()) {
      const ns = ds.metadata.namespace!;
      const spec = ds.spec as {
        selector: { matchLabels: Record<string, string> };
        template: { spec: { nodeSelector: Record<string, string> } };
      };
      const selector = Object.entries(spec.template.spec.nodeSelector)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      const wanted = [...nodes.values()].filter((n) => matches(n.metadata.labels, selector));
      const owned = ownedPods(ns, ds.metadata.name);
      for (const n of wanted) {
        if (!owned.some((p) => (p.spec as Json).nodeName === n.metadata.name)) {
          addPod(ns, ds.metadata.name, spec.selector.matchLabels, n.metadata.name);
        }
      }
      for (const p of owned) {
        if (!wanted.some((n) => n.metadata.name === (p.spec as Json).nodeName)) deletePod(p);
      }
    }
  };

  const storeNode = ({
    name,
    labels = {},
    allocatable = {},
  }: {
    name: string;
    labels?: Record<string, string>;
    allocatable?: Record<string, string>;
  }) => {
    const existing = nodes.get(name);
    const node: FakeObject = {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        uid: existing?.metadata.uid ?? randomBytes(8).toString("hex"),
        resourceVersion: nextVersion(),
        labels: { "kubernetes.io/hostname": name, ...labels },
      },
      status: { allocatable: { cpu: "4", memory: "8Gi", ...allocatable } },
    };
    nodes.set(name, node);
    return { node, existed: existing !== undefined };
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text ? (JSON.parse(text) as unknown) : undefined;
  };

  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const list = (kind: string, apiVersion: string, items: FakeObject[]) => ({
    apiVersion,
    kind: `${kind}List`,
    metadata: { resourceVersion: String(version) },
    items,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const path = url.pathname;
    const contentType = req.headers["content-type"];
    requests.push({ method, path, ...(contentType ? { contentType } : {}) });
    if (req.headers.authorization !== `Bearer ${token}`) {
      return send(res, 401, status(401, "Unauthorized", "Unauthorized"));
    }
    const failure = failures.find(
      (f) => f.method === method && path.startsWith(f.prefix) && f.left > 0,
    );
    if (failure) {
      failure.left--;
      return send(res, failure.status, status(failure.status, "InternalError", "injected failure"));
    }
    const body = ["POST", "PUT", "PATCH"].includes(method) ? await readBody(req) : undefined;
    if (method === "PATCH" && contentType !== "application/merge-patch+json") {
      return send(
        res,
        415,
        status(
          415,
          "UnsupportedMediaType",
          `the fake accepts merge patches only, not ${contentType}`,
        ),
      );
    }
    const labelSelector = url.searchParams.get("labelSelector");
    let m: RegExpMatchArray | null;

    if (path === "/api/v1/nodes" && method === "GET") {
      if (url.searchParams.get("watch") === "true") {
        res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
        res.flushHeaders();
        // A watch from an old resourceVersion replays the current state first, as ADDED.
        for (const n of nodes.values())
          res.write(`${JSON.stringify({ type: "ADDED", object: n })}\n`);
        nodeWatchers.add(res);
        res.on("close", () => nodeWatchers.delete(res));
        return;
      }
      const items = [...nodes.values()].filter((n) => matches(n.metadata.labels, labelSelector));
      return send(res, 200, list("Node", "v1", items));
    }
    if ((m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path))) {
      const node = nodes.get(m[1]!);
      if (!node) return send(res, 404, status(404, "NotFound", `nodes "${m[1]}" not found`));
      if (method === "GET") return send(res, 200, node);
      if (method === "PATCH") {
        const patched = mergePatch(node, body) as FakeObject;
        patched.metadata.resourceVersion = nextVersion();
        nodes.set(node.metadata.name, patched);
        emitNode("MODIFIED", patched);
        reconcileDaemonSets();
        return send(res, 200, patched);
      }
    }
    if (
      (m =
        /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|daemonsets)\/([^/]+)(\/scale)?$/.exec(
          path,
        ))
    ) {
      const [, ns, resource, name, scale] = m;
      const store = resource === "deployments" ? deployments : daemonSets;
      const obj = store.get(key(ns!, name!));
      if (!obj) return send(res, 404, status(404, "NotFound", `${resource} "${name}" not found`));
      const spec = obj.spec as {
        replicas: number;
        selector: { matchLabels: Record<string, string> };
      };
      const asScale = () => ({
        apiVersion: "autoscaling/v1",
        kind: "Scale",
        metadata: { name, namespace: ns, resourceVersion: obj.metadata.resourceVersion },
        spec: { replicas: spec.replicas },
        status: {
          replicas: ownedPods(ns!, name!).length,
          selector: Object.entries(spec.selector.matchLabels)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        },
      });
      if (scale && resource === "deployments") {
        if (method === "GET") return send(res, 200, asScale());
        if (method === "PATCH") {
          const replicas = (body as { spec?: { replicas?: unknown } } | undefined)?.spec?.replicas;
          if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
            return send(
              res,
              422,
              status(422, "Invalid", "spec.replicas must be a non-negative integer"),
            );
          }
          spec.replicas = replicas;
          obj.metadata.resourceVersion = nextVersion();
          reconcileDeployment(obj);
          return send(res, 200, asScale());
        }
      }
      if (!scale && method === "GET") return send(res, 200, obj);
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path)) && method === "GET") {
      const items = [...pods.values()].filter(
        (p) => p.metadata.namespace === m![1] && matches(p.metadata.labels, labelSelector),
      );
      return send(res, 200, list("Pod", "v1", items));
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path))) {
      const pod = pods.get(key(m[1]!, m[2]!));
      if (!pod) return send(res, 404, status(404, "NotFound", `pods "${m[2]}" not found`));
      if (method === "GET") return send(res, 200, pod);
      if (method === "PATCH") {
        const patched = mergePatch(pod, body) as FakeObject;
        patched.metadata.resourceVersion = nextVersion();
        pods.set(key(m[1]!, m[2]!), patched);
        return send(res, 200, patched);
      }
    }
    if (
      (m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(
        path,
      ))
    ) {
      const [, ns, name] = m;
      if (method === "POST" && !name) {
        const lease = body as FakeObject;
        const k = key(ns!, lease.metadata.name);
        if (leases.has(k)) {
          return send(
            res,
            409,
            status(409, "AlreadyExists", `leases "${lease.metadata.name}" already exists`),
          );
        }
        const stored = {
          ...lease,
          metadata: { ...lease.metadata, namespace: ns, resourceVersion: nextVersion() },
        };
        leases.set(k, stored);
        return send(res, 201, stored);
      }
      const existing = name ? leases.get(key(ns!, name)) : undefined;
      if (name && method === "GET") {
        return existing
          ? send(res, 200, existing)
          : send(res, 404, status(404, "NotFound", `leases "${name}" not found`));
      }
      if (name && method === "PUT") {
        if (!existing) return send(res, 404, status(404, "NotFound", `leases "${name}" not found`));
        const lease = body as FakeObject;
        if (lease.metadata.resourceVersion !== existing.metadata.resourceVersion) {
          return send(
            res,
            409,
            status(
              409,
              "Conflict",
              "the object has been modified; please apply your changes to the latest version",
            ),
          );
        }
        const stored = {
          ...lease,
          metadata: { ...lease.metadata, namespace: ns, resourceVersion: nextVersion() },
        };
        leases.set(key(ns!, name), stored);
        return send(res, 200, stored);
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path)) && method === "POST") {
      const event = body as FakeObject;
      const stored = {
        ...event,
        metadata: { ...event.metadata, namespace: m[1], resourceVersion: nextVersion() },
      };
      events.push(stored);
      return send(res, 201, stored);
    }
    return send(res, 404, status(404, "NotFound", `the fake does not serve ${method} ${path}`));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, status(500, "InternalError", String(err)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    putNode(input) {
      const node = storeNode(input);
      emitNode(node.existed ? "MODIFIED" : "ADDED", node.node);
      reconcileDaemonSets();
      return node.node;
    },
    putNodeQuietly(input) {
      storeNode(input);
    },
    endWatches() {
      for (const w of nodeWatchers) w.end();
      nodeWatchers.clear();
    },
    deleteNode(name) {
      const node = nodes.get(name);
      if (!node) return;
      nodes.delete(name);
      emitNode("DELETED", node);
      reconcileDaemonSets();
    },
    node: (name) => nodes.get(name),
    putDeployment({ namespace, name, replicas, matchLabels }) {
      const d: FakeObject = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
          name,
          namespace,
          uid: randomBytes(8).toString("hex"),
          resourceVersion: nextVersion(),
        },
        spec: {
          replicas,
          selector: { matchLabels },
          template: { metadata: { labels: matchLabels } },
        },
      };
      deployments.set(key(namespace, name), d);
      reconcileDeployment(d);
      return d;
    },
    deployment: (namespace, name) => deployments.get(key(namespace, name)),
    putDaemonSet({ namespace, name, matchLabels, nodeSelector }) {
      const ds: FakeObject = {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: {
          name,
          namespace,
          uid: randomBytes(8).toString("hex"),
          resourceVersion: nextVersion(),
        },
        spec: {
          selector: { matchLabels },
          template: { metadata: { labels: matchLabels }, spec: { nodeSelector } },
        },
      };
      daemonSets.set(key(namespace, name), ds);
      reconcileDaemonSets();
      return ds;
    },
    pods: (namespace) => [...pods.values()].filter((p) => p.metadata.namespace === namespace),
    events: (namespace) => events.filter((e) => e.metadata.namespace === namespace),
    lease: (namespace, name) => leases.get(key(namespace, name)),
    onPodChange(listener) {
      podListeners.push(listener);
    },
    failNext(method, pathPrefix, code, n = 1) {
      failures.push({ method, prefix: pathPrefix, status: code, left: n });
    },
    async close() {
      for (const w of nodeWatchers) w.end();
      nodeWatchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
