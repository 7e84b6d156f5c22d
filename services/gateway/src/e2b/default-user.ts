import type { Logger } from "@aetherium/common";
import type { DataPlaneRouter } from "../data-plane/data-plane-router.js";

/**
 * The user E2B's in-sandbox API acts as when a call names none: E2B's templates all have it
 * (home `/home/user`), and the SDK documents its paths and files from that user's view.
 */
export const E2B_DEFAULT_USER = "user";

/**
 * Makes the default user in a sandbox unless it has one: run once per create and connect through
 * `/e2b` (each hands out the access token every later call needs), so every sandbox reached
 * through `/e2b` has it. Idempotent; `useradd` (Debian) or `adduser` (Alpine/BusyBox).
 */
const ENSURE = `id -u ${E2B_DEFAULT_USER} >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/bash ${E2B_DEFAULT_USER} 2>/dev/null || adduser -D ${E2B_DEFAULT_USER}`;

/**
 * Ensures {@link E2B_DEFAULT_USER} exists in the sandbox. A failure is logged, not thrown: the
 * sandbox still serves calls that name a user, and a call as the default user then says the user
 * does not exist.
 */
export async function ensureDefaultUser(
  router: DataPlaneRouter,
  vmId: string,
  logger: Logger,
): Promise<void> {
  try {
    const r = await router.execute(vmId, {
      command: "/bin/sh",
      args: ["-c", ENSURE],
      user: "root",
      timeoutMs: 30_000,
    });
    if (r.exitCode !== 0) {
      logger.warn(
        { vmId, exitCode: r.exitCode, stderr: r.stderr.slice(0, 500) },
        "could not create the e2b default user in the sandbox",
      );
    }
  } catch (err) {
    logger.warn({ err, vmId }, "could not create the e2b default user in the sandbox");
  }
}
