import dgram from "node:dgram";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDnsQuery, VmDnsServer } from "./vm-dns.js";

// The VM resolver on a loopback port, asked by a UDP client with hand-built RFC 1035 queries.
// Names resolve through a lookup the test controls, except `localhost` (the host's /etc/hosts).

function query(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4);
  const labels = name
    .split(".")
    .filter(Boolean)
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(1, 3);
  return Buffer.concat([header, ...labels, tail]);
}

interface Reply {
  id: number;
  rcode: number;
  recursionAvailable: boolean;
  answers: string[];
}

function parseReply(packet: Buffer): Reply {
  const question = parseDnsQuery(
    Buffer.concat([packet.subarray(0, 2), Buffer.alloc(2), packet.subarray(4)]),
  );
  const answers: string[] = [];
  let at = question?.end ?? 12;
  for (let i = 0; i < packet.readUInt16BE(6); i++) {
    const length = packet.readUInt16BE(at + 10);
    answers.push([...packet.subarray(at + 12, at + 12 + length)].join("."));
    at += 12 + length;
  }
  return {
    id: packet.readUInt16BE(0),
    rcode: packet.readUInt16BE(2) & 0xf,
    recursionAvailable: (packet.readUInt16BE(2) & 0x80) !== 0,
    answers,
  };
}

describe("VM resolver", () => {
  const refusedFrom = new Set<string>();
  const names: Record<string, string[]> = {
    "svc.test": ["10.217.0.1", "10.217.0.2", "fd00::1"],
    "v6only.test": ["fd00::2"],
  };
  const server = new VmDnsServer({
    allowed: (address) => Promise.resolve(!refusedFrom.has(address)),
    lookup: (host) => {
      if (host === "localhost") return Promise.resolve(["127.0.0.1"]);
      const found = names[host];
      if (found) return Promise.resolve(found);
      if (host === "broken.test") return Promise.reject(new Error("resolver down"));
      return Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
    },
  });
  const client = dgram.createSocket("udp4");

  beforeAll(async () => {
    await server.listen("127.0.0.1", 0);
    client.bind(0, "127.0.0.1");
    await once(client, "listening");
  });

  afterAll(async () => {
    client.close();
    await server.close();
  });

  async function ask(packet: Buffer): Promise<Reply> {
    const reply = once(client, "message");
    client.send(packet, server.port, "127.0.0.1");
    const [message] = (await reply) as [Buffer];
    return parseReply(message);
  }

  it("answers A questions with the IPv4 addresses of the name, under the query's id", async () => {
    expect(await ask(query(0x1234, "svc.test", 1))).toEqual({
      id: 0x1234,
      rcode: 0,
      recursionAvailable: true,
      answers: ["10.217.0.1", "10.217.0.2"],
    });
  });

  it("answers NXDOMAIN for a name that does not resolve, SERVFAIL when resolving fails", async () => {
    expect(await ask(query(7, "missing.test", 1))).toMatchObject({ rcode: 3, answers: [] });
    expect(await ask(query(8, "broken.test", 1))).toMatchObject({ rcode: 2, answers: [] });
  });

  it("gives no AAAA records (VMs have no IPv6) and an empty A answer for an IPv6-only name", async () => {
    expect(await ask(query(9, "svc.test", 28))).toMatchObject({ rcode: 0, answers: [] });
    expect(await ask(query(10, "v6only.test", 1))).toMatchObject({ rcode: 0, answers: [] });
  });

  it("answers NOTIMP for other record types and FORMERR for what is no query", async () => {
    expect(await ask(query(11, "svc.test", 15))).toMatchObject({ rcode: 4 });
    expect(await ask(Buffer.from([0, 12, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 97]))).toMatchObject({
      id: 12,
      rcode: 1,
    });
  });

  it("refuses a guest the network does not let resolve names", async () => {
    refusedFrom.add("127.0.0.1");
    try {
      expect(await ask(query(13, "svc.test", 1))).toMatchObject({ rcode: 5, answers: [] });
    } finally {
      refusedFrom.delete("127.0.0.1");
    }
  });

  it("resolves through the host's own resolution by default", async () => {
    const host = new VmDnsServer({ allowed: () => Promise.resolve(true) });
    await host.listen("127.0.0.1", 0);
    try {
      const reply = once(client, "message");
      client.send(query(14, "localhost", 1), host.port, "127.0.0.1");
      const [message] = (await reply) as [Buffer];
      expect(parseReply(message)).toMatchObject({ rcode: 0, answers: ["127.0.0.1"] });
    } finally {
      await host.close();
    }
  });
});
