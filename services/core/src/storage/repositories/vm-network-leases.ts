import type { Kysely, Selectable } from "kysely";
import type { Database, JsonValue, VmNetworkLeasesTable } from "../database.js";

/** A row of `vm_network_leases`. */
export type VmNetworkLeaseRow = Selectable<VmNetworkLeasesTable>;

/** What {@link VmNetworkLeaseRepository.allocate} records besides the address it picks. */
export interface NewVmNetworkLease {
  /** IPv4 subnet in CIDR form (`10.213.0.0/24`); its first host address is the gateway's. */
  readonly subnet: string;
  readonly sandboxId: string;
  readonly workerId: string;
  readonly tap: string;
  readonly mac: string;
  readonly egress: JsonValue;
}

/** The subnet has no free address left. */
export class SubnetExhaustedError extends Error {
  constructor(subnet: string) {
    super(`no free address left in ${subnet}: every one is leased to a microVM`);
    this.name = "SubnetExhaustedError";
  }
}

/** An IPv4 subnet as numbers: its network address, prefix length and usable host range. */
export interface Ipv4Subnet {
  /** Canonical CIDR text (host bits cleared). */
  readonly cidr: string;
  readonly network: number;
  readonly prefix: number;
  /** The gateway (the host's address on the bridge): the first host address. */
  readonly gateway: number;
  /** First and last addresses a VM may get (gateway + 1 … broadcast − 1). */
  readonly first: number;
  readonly last: number;
}

/** `a.b.c.d` to a number, or undefined when it is no IPv4 address. */
export function ipv4ToNumber(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + p, 0);
}

/** A number to `a.b.c.d`. */
export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/**
 * Parses an IPv4 CIDR (`10.213.0.0/24`); throws on anything else, and on prefixes longer than
 * /29 (fewer than a gateway and a handful of VMs) or shorter than /8.
 */
export function parseIpv4Subnet(cidr: string): Ipv4Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  const base = m ? ipv4ToNumber(m[1] ?? "") : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 8 && prefix <= 29)) {
    throw new Error(`${cidr} is not an IPv4 subnet between /8 and /29 (e.g. 10.213.0.0/24)`);
  }
  const size = 2 ** (32 - prefix);
  const network = base - (base % size);
  return {
    cidr: `${numberToIpv4(network)}/${prefix}`,
    network,
    prefix,
    gateway: network + 1,
    first: network + 2,
    last: network + size - 2,
  };
}

// Attempts before giving up when other processes keep taking the address picked: each lost race
// means another allocation succeeded, so this bounds only pathological contention.
const MAX_ATTEMPTS = 32;

/**
 * Addresses of microVMs, one per sandbox per subnet. The primary key (subnet, ip) is what makes
 * an allocation atomic: two workers (or two processes of one) picking the same free address race
 * on the insert, one wins and the other picks again. Rows outlive the process, so a restarted
 * worker never hands out an address a running VM still has.
 */
export class VmNetworkLeaseRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Leases the lowest free address of `lease.subnet` to `lease.sandboxId`; a sandbox that already
   * has one gets it back unchanged (a retried create keeps its address). Throws
   * {@link SubnetExhaustedError} when none is free.
   */
  async allocate(lease: NewVmNetworkLease): Promise<VmNetworkLeaseRow> {
    const subnet = parseIpv4Subnet(lease.subnet);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const existing = await this.get(subnet.cidr, lease.sandboxId);
      if (existing) return existing;
      const taken = new Set(
        (
          await this.#db
            .selectFrom("vmNetworkLeases")
            .select("ip")
            .where("subnet", "=", subnet.cidr)
            .execute()
        ).map((r) => ipv4ToNumber(hostOf(r.ip))),
      );
      let candidate: number | undefined;
      for (let n = subnet.first; n <= subnet.last; n++) {
        if (!taken.has(n)) {
          candidate = n;
          break;
        }
      }
      if (candidate === undefined) throw new SubnetExhaustedError(subnet.cidr);
      const row = await this.#db
        .insertInto("vmNetworkLeases")
        .values({
          subnet: subnet.cidr,
          ip: numberToIpv4(candidate),
          sandboxId: lease.sandboxId,
          workerId: lease.workerId,
          tap: lease.tap,
          mac: lease.mac,
          egress: JSON.stringify(lease.egress),
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row) return normalize(row);
    }
    throw new Error(`could not lease an address in ${subnet.cidr}: too much contention`);
  }

  /** The lease of `sandboxId` in `subnet`, if any. */
  async get(subnet: string, sandboxId: string): Promise<VmNetworkLeaseRow | undefined> {
    const row = await this.#db
      .selectFrom("vmNetworkLeases")
      .selectAll()
      .where("subnet", "=", parseIpv4Subnet(subnet).cidr)
      .where("sandboxId", "=", sandboxId)
      .executeTakeFirst();
    return row && normalize(row);
  }

  /** The lease holding address `ip` in `subnet` (the egress proxy's "who is this?"). */
  async findByIp(subnet: string, ip: string): Promise<VmNetworkLeaseRow | undefined> {
    if (ipv4ToNumber(ip) === undefined) return undefined;
    const row = await this.#db
      .selectFrom("vmNetworkLeases")
      .selectAll()
      .where("subnet", "=", parseIpv4Subnet(subnet).cidr)
      .where("ip", "=", ip)
      .executeTakeFirst();
    return row && normalize(row);
  }

  /** Every lease in `subnet`, optionally only one worker's, by address. */
  async list(subnet: string, filter: { workerId?: string } = {}): Promise<VmNetworkLeaseRow[]> {
    let q = this.#db
      .selectFrom("vmNetworkLeases")
      .selectAll()
      .where("subnet", "=", parseIpv4Subnet(subnet).cidr);
    if (filter.workerId !== undefined) q = q.where("workerId", "=", filter.workerId);
    const rows = (await q.execute()).map(normalize);
    return rows.sort((a, b) => (ipv4ToNumber(a.ip) ?? 0) - (ipv4ToNumber(b.ip) ?? 0));
  }

  /** Frees `sandboxId`'s address in `subnet`; false when it had none. */
  async release(subnet: string, sandboxId: string): Promise<boolean> {
    const r = await this.#db
      .deleteFrom("vmNetworkLeases")
      .where("subnet", "=", parseIpv4Subnet(subnet).cidr)
      .where("sandboxId", "=", sandboxId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

/** inet may come back with a mask (`10.0.0.2/32`) depending on the driver. */
function hostOf(ip: string): string {
  return ip.split("/")[0] ?? ip;
}

function normalize(row: VmNetworkLeaseRow): VmNetworkLeaseRow {
  return { ...row, ip: hostOf(row.ip) };
}
