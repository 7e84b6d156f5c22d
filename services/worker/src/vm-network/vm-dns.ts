/**
 * The resolver VMs use: a small DNS responder (UDP, RFC 1035 wire format) on the VM bridge's
 * address, the `nameserver` of every guest allowed out. It answers from the host's own name
 * resolution (`dns.lookup`: the host's `/etc/hosts`, `resolv.conf` and search rules), which is what
 * a Docker container's embedded resolver does too, so a name resolves the same in a VM as in a
 * container and as on the host. A host resolver at `127.0.0.53` (systemd-resolved) is unreachable
 * from a guest, so copying the host's `resolv.conf` would not do.
 *
 * A and AAAA questions are answered (AAAA with no records: VMs have no IPv6, and an address they
 * cannot reach would only slow their clients down); other types get NOTIMP. Who may ask is the
 * network's call (`allowed`): an allow-list VM's only way out is the egress proxy, which resolves
 * the names it checks itself, and a resolver would give it a channel to the outside (names sent
 * upstream), so it gets REFUSED.
 * @module
 */
import dgram from "node:dgram";
import { lookup as dnsLookup } from "node:dns/promises";
import net from "node:net";
import type { Logger } from "@aetherium/common";

/** Resource record types this responder knows. */
const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;

/** Response codes (RFC 1035 §4.1.1). */
const RCODE = { ok: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;

/** Answers a record carries at most: a UDP answer must fit 512 bytes without EDNS. */
const MAX_ANSWERS = 16;
/** Time to live of an answer, in seconds: short, the host's view may change. */
const TTL_SEC = 30;

/** One question of a query. */
export interface DnsQuestion {
  /** The name without its trailing dot, as asked. */
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** Where the question ends in the packet (answers copy the bytes before it). */
  readonly end: number;
}

/**
 * The question of a DNS query, or undefined when the packet is not a standard query with exactly
 * one question whose name is plain labels (no compression in a question).
 */
export function parseDnsQuery(packet: Buffer): DnsQuestion | undefined {
  if (packet.length < 12) return undefined;
  const flags = packet.readUInt16BE(2);
  const isQuery = (flags & 0x8000) === 0;
  const opcode = (flags >> 11) & 0xf;
  if (!isQuery || opcode !== 0 || packet.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= packet.length) return undefined;
    const length = packet[at] ?? 0;
    at += 1;
    if (length === 0) break;
    if (length > 63 || at + length > packet.length) return undefined;
    labels.push(packet.toString("latin1", at, at + length));
    at += length;
  }
  if (at + 4 > packet.length) return undefined;
  return {
    name: labels.join("."),
    type: packet.readUInt16BE(at),
    class: packet.readUInt16BE(at + 2),
    end: at + 4,
  };
}

/**
 * The answer to `query` (whose question is `question`, if it parsed): its id, the question, and
 * `addresses` as A records.
 */
export function dnsAnswer(
  query: Buffer,
  question: DnsQuestion | undefined,
  rcode: number,
  addresses: readonly string[] = [],
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.length >= 2 ? query.readUInt16BE(0) : 0, 0);
  const rd = query.length >= 4 ? query.readUInt16BE(2) & 0x0100 : 0;
  // QR, the query's RD, RA (the host recurses for the guest), the response code.
  header.writeUInt16BE(0x8000 | rd | 0x0080 | (rcode & 0xf), 2);
  if (question === undefined) return header;
  const answers = addresses.slice(0, MAX_ANSWERS).map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // a pointer to the question's name at offset 12
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(TTL_SEC, 6);
    record.writeUInt16BE(4, 10);
    address.split(".").forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
    return record;
  });
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, question.end), ...answers]);
}

/** Options of {@link VmDnsServer}. */
export interface VmDnsServerOptions {
  /** Whether the guest at this source address may resolve names. */
  readonly allowed: (address: string) => Promise<boolean>;
  /** Name resolution; default the host's (`dns.lookup`, every address). */
  readonly lookup?: (host: string) => Promise<string[]>;
  readonly logger?: Logger;
}

const defaultLookup = async (host: string): Promise<string[]> =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

const NOT_FOUND = new Set(["ENOTFOUND", "ENODATA", "EAI_NONAME", "EAI_NODATA"]);

/** See the module comment. */
export class VmDnsServer {
  readonly #o: VmDnsServerOptions;
  #socket: dgram.Socket | undefined;

  constructor(options: VmDnsServerOptions) {
    this.#o = options;
  }

  /** The port it listens on, once listening. */
  get port(): number | undefined {
    return this.#socket?.address().port;
  }

  /** Listens on `address:port` (UDP); rejects with the socket's error (`EADDRINUSE`). */
  async listen(address: string, port = 53): Promise<void> {
    const socket = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address, port, exclusive: true }, () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      socket.close();
      throw err;
    });
    socket.on("error", (err) => this.#o.logger?.warn({ err }, "VM DNS socket error"));
    socket.on("message", (packet, from) => {
      void this.#answer(packet, from.address).then(
        (reply) => socket.send(reply, from.port, from.address),
        (err: unknown) => this.#o.logger?.warn({ err }, "VM DNS answer failed"),
      );
    });
    this.#socket = socket;
  }

  async #answer(packet: Buffer, from: string): Promise<Buffer> {
    const question = parseDnsQuery(packet);
    if (question === undefined) return dnsAnswer(packet, undefined, RCODE.formErr);
    if (!(await this.#o.allowed(from))) return dnsAnswer(packet, question, RCODE.refused);
    if (question.class !== CLASS_IN || (question.type !== TYPE_A && question.type !== TYPE_AAAA)) {
      return dnsAnswer(packet, question, RCODE.notImp);
    }
    let addresses: string[];
    try {
      addresses = await (this.#o.lookup ?? defaultLookup)(question.name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      return dnsAnswer(packet, question, NOT_FOUND.has(code) ? RCODE.nxDomain : RCODE.servFail);
    }
    const v4 = question.type === TYPE_A ? addresses.filter((a) => net.isIPv4(a)) : [];
    return dnsAnswer(packet, question, RCODE.ok, v4);
  }

  /** Stops listening. */
  async close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
