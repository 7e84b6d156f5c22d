/**
 * When each sandbox of a worker last ran a command, and how many it runs now: what idle
 * auto-stop reads. Kept in memory: a restarted worker counts from each sandbox's `readyAt`.
 */
export class SandboxActivity {
  readonly #lastActive = new Map<string, number>();
  readonly #busy = new Map<string, number>();

  /** Notes activity in the sandbox now. */
  touch(sandboxId: string): void {
    this.#lastActive.set(sandboxId, Date.now());
  }

  /** A command started in the sandbox: it is not idle until {@link end}. */
  begin(sandboxId: string): void {
    this.#busy.set(sandboxId, (this.#busy.get(sandboxId) ?? 0) + 1);
  }

  /** A command of the sandbox ended; its end counts as activity. */
  end(sandboxId: string): void {
    const n = (this.#busy.get(sandboxId) ?? 1) - 1;
    if (n > 0) this.#busy.set(sandboxId, n);
    else this.#busy.delete(sandboxId);
    this.touch(sandboxId);
  }

  /** Whether a command runs in the sandbox now (a terminal, a long build). */
  isBusy(sandboxId: string): boolean {
    return this.#busy.has(sandboxId);
  }

  /** When the sandbox last ran a command here (epoch ms), if it has. */
  lastActiveAt(sandboxId: string): number | undefined {
    return this.#lastActive.get(sandboxId);
  }
}
