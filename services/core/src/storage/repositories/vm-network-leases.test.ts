import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../database.js";
import { Migrator } from "../migrator.js";
import {
  parseIpv4Subnet,
  SubnetExhaustedError,
  VmNetworkLeaseRepository,
} from "./vm-network-leases.js";

const pgDb = useTestDatabase();

const lease = (sandboxId: string, workerId = "w-1") => ({
  subnet: "10.213.7.0/29",
  sandboxId,
  workerId,
  tap: `tap-${sandboxId}`,
  mac: "02:ae:00:00:00:01",
  egress: "allow-all",
});

describe("parseIpv4Subnet", () => {
  it("clears host bits, puts the gateway first and refuses what is no usable IPv4 subnet", () => {
    const s = parseIpv4Subnet("10.213.7.9/24");
    expect(s.cidr).toBe("10.213.7.0/24");
    expect([s.gateway, s.first, s.last].map((n) => n - s.network)).toEqual([1, 2, 254]);
    for (const bad of ["10.213.7.0", "10.213.7.0/30", "300.1.1.1/24", "fd00::/64", "x/24"]) {
      expect(() => parseIpv4Subnet(bad)).toThrow(/not an IPv4 subnet/);
    }
  });
});

describe.each([["postgres"], ["pglite"]] as const)("VmNetworkLeaseRepository on %s", (engine) => {
  let handle: DatabaseHandle;
  let leases: VmNetworkLeaseRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    leases = new VmNetworkLeaseRepository(handle.db);
  }, 120_000);
  afterAll(async () => {
    await handle?.close();
  });

  it("hands out distinct addresses, keeps a sandbox's, reuses released ones and runs out", async () => {
    const a = await leases.allocate(lease("sb-a"));
    const b = await leases.allocate(lease("sb-b", "w-2"));
    expect([a.ip, b.ip]).toEqual(["10.213.7.2", "10.213.7.3"]);
    expect(a).toMatchObject({ subnet: "10.213.7.0/29", egress: "allow-all", workerId: "w-1" });
    // A retried create gets its own address back, not a second one.
    expect((await leases.allocate(lease("sb-a"))).ip).toBe("10.213.7.2");
    expect((await leases.findByIp("10.213.7.0/29", "10.213.7.3"))?.sandboxId).toBe("sb-b");
    expect((await leases.list("10.213.7.0/29", { workerId: "w-2" })).map((l) => l.ip)).toEqual([
      "10.213.7.3",
    ]);

    // A /29 has six hosts: the gateway and five VMs.
    for (const id of ["sb-c", "sb-d", "sb-e"]) await leases.allocate(lease(id));
    await expect(leases.allocate(lease("sb-f"))).rejects.toBeInstanceOf(SubnetExhaustedError);

    expect(await leases.release("10.213.7.0/29", "sb-b")).toBe(true);
    expect(await leases.release("10.213.7.0/29", "sb-b")).toBe(false);
    expect((await leases.allocate(lease("sb-f"))).ip).toBe("10.213.7.3");
    for (const l of await leases.list("10.213.7.0/29")) {
      await leases.release(l.subnet, l.sandboxId);
    }
    expect(await leases.list("10.213.7.0/29")).toEqual([]);
  });

  it.runIf(engine === "postgres")(
    "two processes allocating at once never share an address",
    async () => {
      const other = await openDatabase({ url: pgDb.current.url });
      try {
        const second = new VmNetworkLeaseRepository(other.db);
        const subnet = "10.213.8.0/27";
        const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
        const rows = await Promise.all(
          ids.map((id, i) =>
            (i % 2 === 0 ? leases : second).allocate({
              ...lease(id),
              subnet,
              workerId: `w-${i % 2}`,
            }),
          ),
        );
        expect(new Set(rows.map((r) => r.ip)).size).toBe(ids.length);
        for (const id of ids) await leases.release(subnet, id);
      } finally {
        await other.close();
      }
    },
    120_000,
  );
});
