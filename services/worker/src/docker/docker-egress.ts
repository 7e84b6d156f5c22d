/**
 * Egress allow-lists for Docker sandboxes, enforced rather than advised: such a sandbox joins an
 * *internal* bridge (no forwarding anywhere), the host accepts nothing from that bridge but the
 * egress proxy's port, the sandbox gets no DNS, and its `HTTP(S)_PROXY` point at the proxy, which
 * checks each destination against the sandbox's list (kept in a container label, so any worker
 * process on the host can serve any sandbox, also after a restart).
 * @module
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@aetherium/common";
import type Docker from "dockerode";
import {
  compileAddressSet,
  compileAllowList,
  unmapAddress,
  type AddressSet,
} from "../network/egress-allow-list.js";
import { EgressProxy, listenOrRetry, type EgressIdentity } from "../network/egress-proxy.js";
import { restrictBridgeToProxy, unrestrictBridge } from "../network/host-firewall.js";
import { engineStatus, mapDockerError } from "./docker-errors.js";

/** The internal bridge of allow-list sandboxes (network and interface name, ≤ 15 characters). */
export const EGRESS_NETWORK = "aetherium-eg0";

/** Default port of the egress proxy on the bridge's host address. */
export const EGRESS_PROXY_PORT = 3128;

/** Container label holding a sandbox's allow-list (JSON array). */
export const EGRESS_ALLOW_LABEL = "aetherium.egress-allow";

/** Options for {@link DockerEgress}. */
export interface DockerEgressOptions {
  readonly docker: Docker;
  readonly socketPath: string;
  /** Network (and bridge interface) name; default {@link EGRESS_NETWORK}. */
  readonly network?: string;
  /** Proxy port; default {@link EGRESS_PROXY_PORT}. */
  readonly proxyPort?: number;
  /** Name resolution for allowed names (tests point names at their own containers). */
  readonly lookup?: (host: string) => Promise<string[]>;
  /**
   * Names of the backend's other sandbox networks (its allow-all bridge). Their subnets, those
   * of every network carrying {@link managedLabel}, this egress network's and Docker's default
   * bridge's are never reachable through the proxy, whatever a list says.
   */
  readonly sandboxNetworks?: readonly string[];
  /** Label that marks managed containers (`key=value`). */
  readonly managedLabel: string;
  /** Label key carrying a container's sandbox id. */
  readonly sandboxIdLabel: string;
  /** Host directory for the `resolv.conf` these sandboxes get (the backend's socket root). */
  readonly stateDir: string;
  readonly logger?: Logger;
}

/** What a container on the egress network is created with. */
export interface EgressAttachment {
  /** Proxy variables for the sandbox's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Host file to bind-mount read-only over `/etc/resolv.conf`: a resolver that fails at once. */
  readonly resolvConf: string;
  readonly labels: Readonly<Record<string, string>>;
}

const IDENTITY_TTL_MS = 1000;
/** How long a listing of the sandbox networks' subnets is used before it is read again. */
const SANDBOX_NETWORKS_TTL_MS = 1000;
/** Docker's default bridge (`docker0`): containers on it are no destination for a sandbox either. */
const DOCKER_DEFAULT_NETWORK = "bridge";
const MISS_REFRESH_MS = 100;

/** See the module comment. One per {@link DockerBackend}; nothing happens until first use. */
export class DockerEgress {
  readonly #o: DockerEgressOptions;
  readonly #network: string;
  readonly #port: number;
  #ready: Promise<string> | undefined;
  #proxy: EgressProxy | undefined;
  #retry: NodeJS.Timeout | undefined;
  #identities: { at: number; byAddress: Map<string, EgressIdentity> } | undefined;
  #closed = false;
  #refreshing: Promise<void> | undefined;
  #subnets: { at: number; set: AddressSet } | undefined;
  #listingSubnets: Promise<AddressSet> | undefined;

  constructor(options: DockerEgressOptions) {
    this.#o = options;
    this.#network = options.network ?? EGRESS_NETWORK;
    this.#port = options.proxyPort ?? EGRESS_PROXY_PORT;
  }

  /** The network name. */
  get network(): string {
    return this.#network;
  }

  /** Network, firewall and proxy ready; how a container with `allow` is to be created. */
  async attach(allow: readonly string[]): Promise<EgressAttachment> {
    const gateway = await this.ready();
    const proxy = `http://${gateway}:${this.#port}`;
    return {
      env: {
        HTTP_PROXY: proxy,
        HTTPS_PROXY: proxy,
        http_proxy: proxy,
        https_proxy: proxy,
        NO_PROXY: "localhost,127.0.0.1,::1",
        no_proxy: "localhost,127.0.0.1,::1",
        // Node's own fetch honours the variables only when asked to (Node ≥ 22.21 / 24).
        NODE_USE_ENV_PROXY: "1",
      },
      resolvConf: await this.#resolvConf(),
      labels: { [EGRESS_ALLOW_LABEL]: JSON.stringify(allow) },
    };
  }

  /**
   * No DNS inside: names are the proxy's to resolve, and only allowed ones (a resolver that
   * answered anything would be a way out, one query at a time). Docker's embedded resolver with
   * a dead upstream makes every lookup hang for 20 s; this file makes it fail in a millisecond.
   */
  async #resolvConf(): Promise<string> {
    const file = path.join(this.#o.stateDir, "resolv-egress.conf");
    const text =
      "# Aetherium: this sandbox has an egress allow-list; its proxy resolves allowed names.\n" +
      "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n";
    // Written only when missing or different: running sandboxes have it bind-mounted.
    if ((await readFile(file, "utf8").catch(() => "")) !== text) {
      await mkdir(this.#o.stateDir, { recursive: true, mode: 0o711 });
      await writeFile(file, text, { mode: 0o644 });
    }
    return file;
  }

  /**
   * Network, firewall rules and this process's proxy (or its stand-by) in place; resolves to the
   * proxy's address. Once per process; a failure lets the next call try again.
   */
  ready(): Promise<string> {
    this.#ready ??= this.#prepare().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /** Forgets cached identities (a sandbox was removed; its address may be handed out again). */
  forget(): void {
    this.#identities = undefined;
  }

  /** Stops this process's proxy (the network and rules stay for other workers and restarts). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearInterval(this.#retry);
    await this.#proxy?.close();
    this.#proxy = undefined;
  }

  /** Removes the network and its firewall rules (tests); fails while containers use it. */
  async remove(): Promise<void> {
    await this.close();
    await unrestrictBridge(this.#network, this.#port);
    try {
      await this.#o.docker.getNetwork(this.#network).remove();
    } catch (err) {
      if (engineStatus(err) !== 404) throw mapDockerError(err, { operation: "remove network" });
    }
    this.#ready = undefined;
  }

  async #prepare(): Promise<string> {
    const gateway = await this.#ensureNetwork();
    await restrictBridgeToProxy(this.#network, this.#port);
    await this.#startProxy(gateway);
    return gateway;
  }

  async #ensureNetwork(): Promise<string> {
    const { docker, socketPath } = this.#o;
    const context = { socketPath, operation: `create network ${this.#network}` };
    const gatewayOf = async (): Promise<string | undefined> => {
      try {
        const info = (await docker.getNetwork(this.#network).inspect()) as {
          IPAM?: { Config?: { Gateway?: string }[] };
        };
        return info.IPAM?.Config?.find((c) => c.Gateway)?.Gateway;
      } catch (err) {
        if (engineStatus(err) === 404) return undefined;
        throw mapDockerError(err, context);
      }
    };
    const existing = await gatewayOf();
    if (existing !== undefined) return existing;
    const [managedKey, managedValue] = this.#o.managedLabel.split("=") as [string, string];
    try {
      await docker.createNetwork({
        Name: this.#network,
        Driver: "bridge",
        Internal: true,
        CheckDuplicate: true,
        Options: {
          "com.docker.network.bridge.name": this.#network,
          "com.docker.network.bridge.enable_icc": "false",
        },
        Labels: { [managedKey]: managedValue },
      });
    } catch (err) {
      if (engineStatus(err) !== 409) throw mapDockerError(err, context);
    }
    const gateway = await gatewayOf();
    if (gateway === undefined) {
      throw new Error(`network ${this.#network} has no gateway address for the egress proxy`);
    }
    return gateway;
  }

  async #startProxy(gateway: string): Promise<void> {
    const listen = async (): Promise<boolean> => {
      if (this.#closed || this.#proxy) return true;
      const proxy = new EgressProxy({
        identify: (address) => this.#identify(address),
        sandboxNetworks: () => this.sandboxSubnets(),
        ...(this.#o.lookup ? { lookup: this.#o.lookup } : {}),
        ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      });
      try {
        await proxy.listen(gateway, this.#port);
        this.#proxy = proxy;
        this.#o.logger?.info({ address: `${gateway}:${this.#port}` }, "egress proxy listening");
        return true;
      } catch (err) {
        // Another worker process on this host serves the bridge; take over if it goes away.
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") return false;
        throw err;
      }
    };
    this.#retry = await listenOrRetry(listen, {
      retry: this.#retry,
      onError: (err) => this.#o.logger?.warn({ err }, "egress proxy listen failed"),
    });
  }

  /**
   * Every subnet of the sandbox networks (see {@link DockerEgressOptions.sandboxNetworks}), read
   * from the engine at most every {@link SANDBOX_NETWORKS_TTL_MS}; rejects when the engine cannot
   * be asked, so the proxy refuses rather than guesses.
   */
  sandboxSubnets(): Promise<AddressSet> {
    const cached = this.#subnets;
    if (cached !== undefined && Date.now() - cached.at <= SANDBOX_NETWORKS_TTL_MS) {
      return Promise.resolve(cached.set);
    }
    this.#listingSubnets ??= this.#listSubnets().finally(() => (this.#listingSubnets = undefined));
    return this.#listingSubnets;
  }

  async #listSubnets(): Promise<AddressSet> {
    const at = Date.now();
    const [key, value] = this.#o.managedLabel.split("=") as [string, string];
    const names = new Set([
      this.#network,
      DOCKER_DEFAULT_NETWORK,
      ...(this.#o.sandboxNetworks ?? []),
    ]);
    const networks = (await this.#o.docker.listNetworks()) as {
      Name?: string;
      Labels?: Record<string, string> | null;
      IPAM?: { Config?: { Subnet?: string }[] | null };
    }[];
    const subnets: string[] = [];
    for (const n of networks) {
      if (!names.has(n.Name ?? "") && n.Labels?.[key] !== value) continue;
      for (const c of n.IPAM?.Config ?? []) if (c.Subnet) subnets.push(c.Subnet);
    }
    const set = compileAddressSet(subnets);
    this.#subnets = { at, set };
    return set;
  }

  /** The running managed container at `address` on the egress network, with its allow-list. */
  async #identify(address: string): Promise<EgressIdentity | undefined> {
    const key = unmapAddress(address);
    const now = Date.now();
    const age = this.#identities === undefined ? Infinity : now - this.#identities.at;
    // Stale, or a miss that a sandbox started since the last look may explain (at most every
    // MISS_REFRESH_MS, so an unknown source cannot make us list containers on every request).
    const known = this.#identities?.byAddress.has(key) === true;
    if (age > IDENTITY_TTL_MS || (!known && age > MISS_REFRESH_MS)) {
      this.#refreshing ??= this.#loadIdentities().finally(() => (this.#refreshing = undefined));
      await this.#refreshing;
    }
    return this.#identities?.byAddress.get(key);
  }

  async #loadIdentities(): Promise<void> {
    const now = Date.now();
    const containers = await this.#o.docker.listContainers({
      filters: { network: [this.#network], label: [this.#o.managedLabel] },
    });
    const byAddress = new Map<string, EgressIdentity>();
    for (const c of containers) {
      const ip = c.NetworkSettings?.Networks?.[this.#network]?.IPAddress;
      const raw = c.Labels?.[EGRESS_ALLOW_LABEL];
      if (!ip || raw === undefined) continue;
      let entries: string[];
      try {
        const parsed: unknown = JSON.parse(raw);
        entries = Array.isArray(parsed) ? parsed.filter((e) => typeof e === "string") : [];
      } catch {
        entries = []; // unreadable list: allow nothing
      }
      const sandboxId = c.Labels?.[this.#o.sandboxIdLabel] ?? c.Id;
      byAddress.set(ip, { sandboxId, allow: compileAllowList(entries) });
    }
    this.#identities = { at: now, byAddress };
  }
}
