import path from "node:path";
import type { Config, Logger } from "@aetherium/common";
import { openDatabase } from "../storage/database.js";
import { Migrator } from "../storage/migrator.js";

/** What `aetherium migrate` can do. */
export type MigrateAction = "up" | "down" | "status";

/** Whether `action` is a {@link MigrateAction}. */
export function isMigrateAction(action: string): action is MigrateAction {
  return action === "up" || action === "down" || action === "status";
}

/**
 * `aetherium migrate up|down|status`: applies pending migrations, reverts the last one, or
 * lists both, on the configured PostgreSQL (or the embedded database under `home`).
 * `print` gets one line per migration.
 */
export async function runMigrate(
  config: Config,
  action: MigrateAction,
  logger: Logger,
  print: (line: string) => void,
): Promise<void> {
  const handle = config.database.url
    ? await openDatabase({ url: config.database.url })
    : await openDatabase({ pglite: path.resolve(config.home, "pgdata") });
  try {
    const migrator = new Migrator(handle.db);
    if (action === "up") {
      const applied = await migrator.up();
      print(
        applied.length ? applied.map((m) => `applied ${m.name}`).join("\n") : "nothing to apply",
      );
    } else if (action === "down") {
      const reverted = await migrator.down(1);
      print(
        reverted.length
          ? reverted.map((m) => `reverted ${m.name}`).join("\n")
          : "nothing to revert",
      );
    } else {
      const status = await migrator.status();
      for (const m of status.applied) print(`applied  ${m.name}`);
      for (const m of status.pending) print(`pending  ${m.name}`);
    }
    logger.debug({ action }, "migrate done");
  } finally {
    await handle.close();
  }
}
