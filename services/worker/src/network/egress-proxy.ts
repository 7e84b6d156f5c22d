/**
 * The egress proxy that enforces sandbox allow-lists. Sandboxes with an allow-list sit on a
 * network without a route out; the only thing they can reach is this proxy, on the host side of
 * their bridge. It speaks plain HTTP forwarding (`GET http://host/…`) and `CONNECT host:port`
 * tunnels (HTTPS and anything else a client tunnels), which is what `HTTP(S)_PROXY` makes curl,
 * git, npm, pip and apt use. Every request is matched against the allow-list of the sandbox it
 * comes from (found by its source address) before any DNS lookup or connection is made, so a
 * refused destination costs the outside world nothing, not even a query.
 * @module
 */
import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "@aetherium/common";
import {
  isRefusedAddress,
  normalizeAddress,
  type AddressSet,
  type AllowList,
} from "./egress-allow-list.js";

/** Whose traffic a connection is, and what it may reach. */
export interface EgressIdentity {
  readonly sandboxId: string;
  readonly allow: AllowList;
}

/** Options for {@link EgressProxy}. */
export interface EgressProxyOptions {
  /** The sandbox at `sourceAddress` and its allow-list; undefined when it is none of ours. */
  readonly identify: (sourceAddress: string) => Promise<EgressIdentity | undefined>;
  /** Resolves an allowed name to addresses; default the host's resolver (`dns.lookup`). */
  lookup?: (host: string) => Promise<string[]>;
  /**
   * Addresses of the backend's sandbox networks, refused whatever a list says: the proxy runs on
   * the host, so it would otherwise carry one sandbox's traffic to another. A rejection refuses
   * the request (the proxy cannot tell what it would reach).
   */
  sandboxNetworks?: () => Promise<AddressSet>;
  /** Gives up connecting to a destination after this long; default 10 s. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** The outcome of checking one destination. */
export type EgressDecision =
  | { readonly ok: true; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly status: 403 | 502; readonly reason: string };

const defaultLookup = async (host: string): Promise<string[]> =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Decides whether `host` may be reached under `allow`. A name must be allowed by a domain entry
 * (it is only then resolved); a literal address by an IP/CIDR entry. Either way, addresses that
 * are never reachable (the host itself, loopback, link-local, multicast, and `sandboxes`: the
 * backend's sandbox networks) are dropped. The addresses returned are the checked ones in
 * canonical form: the caller connects to exactly these, never to a name resolved again.
 */
export async function decideEgress(
  allow: AllowList,
  host: string,
  lookup: (host: string) => Promise<string[]> = defaultLookup,
  sandboxes?: AddressSet,
): Promise<EgressDecision> {
  if (net.isIP(host) !== 0) {
    const address = normalizeAddress(host);
    if (address === undefined || !allow.allowsAddress(address)) {
      return {
        ok: false,
        status: 403,
        reason: `${host} is not in the sandbox's egress allow-list`,
      };
    }
    if (isRefusedAddress(address, sandboxes)) {
      return { ok: false, status: 403, reason: `${host} is an address no sandbox may reach` };
    }
    return { ok: true, addresses: [address] };
  }
  if (!allow.allowsName(host)) {
    return { ok: false, status: 403, reason: `${host} is not in the sandbox's egress allow-list` };
  }
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    return { ok: false, status: 502, reason: `could not resolve ${host} (${code})` };
  }
  const usable = addresses
    .filter((a) => !isRefusedAddress(a, sandboxes))
    .map((a) => normalizeAddress(a) ?? a);
  if (usable.length === 0) {
    return {
      ok: false,
      status: addresses.length === 0 ? 502 : 403,
      reason:
        addresses.length === 0
          ? `${host} resolves to no address`
          : `${host} resolves only to addresses no sandbox may reach`,
    };
  }
  return { ok: true, addresses: usable };
}

/** Splits a CONNECT target `host:port` / `[v6]:port`. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: (m[1] ?? m[2] ?? "").toLowerCase(), port };
}

// Hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1), plus the proxy's own.
const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function forwardHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const listed = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** See the module comment. One per worker host; it serves every sandbox on the egress network. */
export class EgressProxy {
  readonly #server: http.Server;
  readonly #tunnels = new Set<Duplex>();
  readonly #identify: EgressProxyOptions["identify"];
  readonly #lookup: (host: string) => Promise<string[]>;
  readonly #sandboxNetworks: EgressProxyOptions["sandboxNetworks"];
  readonly #connectTimeoutMs: number;
  readonly #logger: Logger | undefined;

  /** Builds the proxy; {@link listen} starts it. */
  constructor(options: EgressProxyOptions) {
    this.#identify = options.identify;
    this.#lookup = options.lookup ?? defaultLookup;
    this.#sandboxNetworks = options.sandboxNetworks;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#logger = options.logger;
    this.#server = http.createServer((req, res) => void this.#onRequest(req, res));
    this.#server.on("connect", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.#onConnect(req, socket, head);
    });
    this.#server.on("clientError", (_err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
      else socket.destroy();
    });
  }

  /** Listens on `host:port`; rejects with the listen error (EADDRINUSE when another has it). */
  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once("error", onError);
      this.#server.listen({ host, port, exclusive: true }, () => {
        this.#server.off("error", onError);
        // The worker's lifetime is not the proxy's to decide.
        this.#server.unref();
        resolve();
      });
    });
  }

  /** Where it listens, once listening. */
  get address(): net.AddressInfo | undefined {
    const a = this.#server.address();
    return a !== null && typeof a === "object" ? a : undefined;
  }

  /** Stops listening and cuts every open request and tunnel. */
  async close(): Promise<void> {
    for (const t of this.#tunnels) t.destroy();
    this.#server.closeAllConnections();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #check(source: string | undefined, host: string, port: number): Promise<EgressDecision> {
    const who =
      source === undefined ? undefined : await this.#identify(source).catch(() => undefined);
    if (who === undefined) {
      return { ok: false, status: 403, reason: "this address is not a sandbox with an allow-list" };
    }
    let sandboxes: AddressSet | undefined;
    try {
      sandboxes = await this.#sandboxNetworks?.();
    } catch (err) {
      this.#logger?.warn({ err }, "egress proxy cannot list the sandbox networks");
      return { ok: false, status: 502, reason: "cannot tell which addresses are sandboxes" };
    }
    const decision = await decideEgress(who.allow, host, this.#lookup, sandboxes);
    if (!decision.ok) {
      this.#logger?.info(
        { sandboxId: who.sandboxId, host, port, reason: decision.reason },
        "egress refused",
      );
    }
    return decision;
  }

  /** Connects to the first address that answers. */
  #dial(addresses: readonly string[], port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      let i = 0;
      const next = (lastErr?: Error) => {
        const address = addresses[i++];
        if (address === undefined) {
          reject(lastErr ?? new Error("no address"));
          return;
        }
        const socket = net.connect({ host: address, port });
        const timer = setTimeout(
          () => socket.destroy(new Error(`connect to ${address}:${port} timed out`)),
          this.#connectTimeoutMs,
        );
        socket.once("connect", () => {
          clearTimeout(timer);
          socket.removeAllListeners("error");
          resolve(socket);
        });
        socket.once("error", (err) => {
          clearTimeout(timer);
          next(err);
        });
      };
      next();
    });
  }

  async #onConnect(req: http.IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    this.#tunnels.add(client);
    client.once("close", () => this.#tunnels.delete(client));
    client.on("error", () => client.destroy());
    const refuse = (status: number, reason: string) => {
      const body = `Aetherium egress proxy: ${reason}\n`;
      const text = status === 403 ? "Forbidden" : status === 400 ? "Bad Request" : "Bad Gateway";
      client.end(
        `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-aetherium-egress: refused\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    const target = parseAuthority(req.url ?? "");
    if (!target) {
      refuse(400, "CONNECT needs host:port");
      return;
    }
    const decision = await this.#check(req.socket.remoteAddress, target.host, target.port);
    if (!decision.ok) {
      refuse(decision.status, decision.reason);
      return;
    }
    let upstream: net.Socket;
    try {
      upstream = await this.#dial(decision.addresses, target.port);
    } catch (err) {
      refuse(502, `could not connect to ${target.host}:${target.port}: ${(err as Error).message}`);
      return;
    }
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    this.#tunnels.add(upstream);
    upstream.once("close", () => this.#tunnels.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  }

  async #onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const refuse = (status: number, reason: string) => {
      res.writeHead(status, { "content-type": "text/plain", "x-aetherium-egress": "refused" });
      res.end(`Aetherium egress proxy: ${reason}\n`);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      refuse(400, "this is an egress proxy: send absolute URLs (http://host/path) or CONNECT");
      return;
    }
    if (url.protocol !== "http:") {
      refuse(400, `${url.protocol} URLs go through CONNECT, not a plain proxy request`);
      return;
    }
    const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
    const port = url.port === "" ? 80 : Number(url.port);
    const decision = await this.#check(req.socket.remoteAddress, host, port);
    if (!decision.ok) {
      refuse(decision.status, decision.reason);
      return;
    }
    let socket: net.Socket;
    try {
      socket = await this.#dial(decision.addresses, port);
    } catch (err) {
      refuse(502, `could not connect to ${host}:${port}: ${(err as Error).message}`);
      return;
    }
    const upstream = http.request({
      createConnection: () => socket,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: { ...forwardHeaders(req.headers), host: url.host },
      setHost: false,
    });
    upstream.on("response", (up) => {
      res.writeHead(up.statusCode ?? 502, forwardHeaders(up.headers));
      up.pipe(res);
    });
    upstream.on("error", (err) => {
      if (!res.headersSent) refuse(502, `${host}:${port}: ${err.message}`);
      else res.destroy();
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  }
}

/**
 * Runs `listen` (true once a proxy listens, false while another worker process on this host holds
 * the port) and, when it could not listen, runs it again every 2 s so this process takes over the
 * bridge when the other one goes away. Returns the retry timer to clear on close: `retry` when
 * one is already running, a new one when needed, none when it listened at once.
 */
export async function listenOrRetry(
  listen: () => Promise<boolean>,
  options: { readonly retry: NodeJS.Timeout | undefined; readonly onError: (err: unknown) => void },
): Promise<NodeJS.Timeout | undefined> {
  if ((await listen()) || options.retry) return options.retry;
  const timer = setInterval(() => {
    listen()
      .then((done) => {
        if (done) clearInterval(timer);
      })
      .catch(options.onError);
  }, 2000);
  timer.unref();
  return timer;
}
