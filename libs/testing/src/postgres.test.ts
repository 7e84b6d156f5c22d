import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTestDatabase, listTestDatabases } from "./postgres.js";

describe("createTestDatabase", () => {
  it("gives each caller its own empty database and drops it afterwards", async () => {
    const a = await createTestDatabase();
    const b = await createTestDatabase();
    try {
      expect(a.name).not.toBe(b.name);
      const client = new pg.Client({ connectionString: a.url });
      await client.connect();
      try {
        await client.query("CREATE TABLE marker (v int)");
        await client.query("INSERT INTO marker VALUES (42)");
        const { rows } = await client.query<{ v: number }>("SELECT v FROM marker");
        expect(rows).toEqual([{ v: 42 }]);
      } finally {
        await client.end();
      }
      // The other database does not see the table.
      const other = new pg.Client({ connectionString: b.url });
      await other.connect();
      try {
        await expect(other.query("SELECT * FROM marker")).rejects.toThrow(/does not exist/);
      } finally {
        await other.end();
      }
    } finally {
      await a.drop();
      await b.drop();
    }
    const left = await listTestDatabases();
    expect(left).not.toContain(a.name);
    expect(left).not.toContain(b.name);
  });

  it("drops a database even while a connection is still open", async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => undefined); // the server terminates it on purpose
    await client.connect();
    await db.drop();
    expect(await listTestDatabases()).not.toContain(db.name);
    await client.end().catch(() => undefined);
  });
});
