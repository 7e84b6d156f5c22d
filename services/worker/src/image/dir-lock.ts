import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` while holding an exclusive lock on `lockDir` (a directory whose creation is the atomic
 * step), so two processes building the same cache (two vitest workers, a CLI run beside a worker)
 * wait for each other instead of debootstrapping the same tree twice. A lock whose owner process
 * has died is taken over: a build killed half-way must not wedge every later build.
 */
export async function withDirLock<T>(
  lockDir: string,
  fn: () => Promise<T>,
  options: { timeoutMs?: number; onWait?: () => void } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const ownerFile = path.join(lockDir, "owner");
  let waited = false;
  await mkdir(path.dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(ownerFile, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number((await readFile(ownerFile, "utf8").catch(() => "")).trim());
    // No owner file yet: the holder is between mkdir and writeFile; give it a moment.
    if (owner > 0 && owner !== process.pid && !processAlive(owner)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir}`);
    if (!waited) options.onWait?.();
    waited = true;
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
