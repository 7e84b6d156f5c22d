import type { PGlite, Results } from "@electric-sql/pglite";
import {
  AbortedTransactionError,
  CompiledQuery,
  IdentifierNode,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  RawNode,
  createQueryId,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from "kysely";

/** Options of {@link PGliteDialect}. */
export interface PGliteDialectConfig {
  /** An open PGlite instance, or a function that opens one when Kysely first needs it. */
  readonly pglite: PGlite | (() => Promise<PGlite>);
  /** Close the PGlite instance when the Kysely instance is destroyed (default true). */
  readonly closeOnDestroy?: boolean;
}

/**
 * A Kysely dialect for PGlite (PostgreSQL compiled to WebAssembly, in process). It reuses Kysely's
 * PostgreSQL compiler, adapter and introspector: only the driver is specific.
 *
 * PGlite is a single session, so the driver has one connection behind a mutex: transactions run
 * one after another. The consequence to keep in mind: inside `db.transaction().execute(trx => …)`
 * use `trx` only. A query on `db` there waits for the transaction to end, which waits for it: a
 * deadlock on PGlite (on PostgreSQL it would merely run outside the transaction).
 */
export class PGliteDialect implements Dialect {
  readonly #config: PGliteDialectConfig;

  constructor(config: PGliteDialectConfig) {
    this.#config = config;
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    return new PGliteDriver(this.#config);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

/**
 * A FIFO mutex. PGlite is one PostgreSQL session: two Kysely transactions interleaving their
 * statements on it would silently become one transaction, so a caller holds the connection from
 * acquire to release and everyone else waits.
 */
class Mutex {
  #tail: Promise<void> = Promise.resolve();

  async lock(): Promise<() => void> {
    let unlock!: () => void;
    const next = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    const previous = this.#tail;
    this.#tail = previous.then(() => next);
    await previous;
    return unlock;
  }
}

class PGliteDriver implements Driver {
  readonly #config: PGliteDialectConfig;
  readonly #mutex = new Mutex();
  #pglite: PGlite | undefined;
  #connection: PGliteConnection | undefined;
  #unlock: (() => void) | undefined;

  constructor(config: PGliteDialectConfig) {
    this.#config = config;
  }

  async init(): Promise<void> {
    const { pglite } = this.#config;
    this.#pglite = typeof pglite === "function" ? await pglite() : pglite;
    this.#connection = new PGliteConnection(this.#pglite);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const unlock = await this.#mutex.lock();
    if (!this.#connection) {
      unlock();
      throw new Error("PGlite driver has been destroyed");
    }
    this.#unlock = unlock;
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    const unlock = this.#unlock;
    this.#unlock = undefined;
    unlock?.();
    return Promise.resolve();
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    let sql = "begin";
    if (settings.isolationLevel || settings.accessMode) {
      sql = "start transaction";
      if (settings.isolationLevel) sql += ` isolation level ${settings.isolationLevel}`;
      if (settings.accessMode) sql += ` ${settings.accessMode}`;
    }
    await connection.executeQuery(CompiledQuery.raw(sql));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const { rows } = await connection.executeQuery<{ command?: string }>(
      CompiledQuery.raw("commit"),
    );
    // PostgreSQL answers COMMIT with a ROLLBACK tag when an earlier error aborted the transaction.
    if (rows[0]?.command === "ROLLBACK") throw new AbortedTransactionError();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(
      compileQuery(savepointCommand("savepoint", name), createQueryId()),
    );
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(
      compileQuery(savepointCommand("rollback to", name), createQueryId()),
    );
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand("release", name), createQueryId()));
  }

  async destroy(): Promise<void> {
    const pglite = this.#pglite;
    // Wait for whoever holds the session, so closing never cuts a transaction in half.
    const unlock = await this.#mutex.lock();
    this.#connection = undefined;
    this.#pglite = undefined;
    unlock();
    if (pglite && (this.#config.closeOnDestroy ?? true) && !pglite.closed) await pglite.close();
  }
}

function savepointCommand(command: string, name: string): RawNode {
  // IdentifierNode quotes the name, as Kysely's own PostgreSQL driver does.
  return RawNode.createWithChildren([
    RawNode.createWithSql(`${command} `),
    IdentifierNode.create(name),
  ]);
}

const ROW_COUNT_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const params = [...compiledQuery.parameters];
    // `query()` uses the extended protocol, which refuses several statements in one string.
    // Without parameters `pg` uses the simple protocol, which accepts them (migration files rely
    // on that), so PGlite does the same through `exec()` and reports the last statement.
    const result: Results<R> | undefined =
      params.length === 0
        ? ((await this.#pglite.exec(compiledQuery.sql)).at(-1) as Results<R> | undefined)
        : await this.#pglite.query<R>(compiledQuery.sql, params);
    const command = result?.command;
    if (command === "COMMIT" || command === "ROLLBACK") {
      return { rows: [{ command } as R] };
    }
    return {
      numAffectedRows:
        command !== undefined && ROW_COUNT_COMMANDS.has(command)
          ? BigInt(result?.affectedRows ?? 0)
          : undefined,
      rows: result?.rows ?? [],
    };
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize = 100,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new Error("chunkSize must be a positive integer");
    }
    // PGlite keeps the whole result in memory anyway; hand it out in the requested chunks.
    const { rows } = await this.executeQuery<R>(compiledQuery);
    for (let i = 0; i < rows.length; i += chunkSize) {
      yield { rows: rows.slice(i, i + chunkSize) };
    }
  }
}
