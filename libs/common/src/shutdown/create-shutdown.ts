import type { Logger } from "../logger/index.js";

/** A cleanup step: close a server, drain a queue, flush logs. */
export type ShutdownHandler = () => void | Promise<void>;

/** How one handler ended. */
export interface ShutdownStepResult {
  /** The name it was registered under. */
  name: string;
  /** `ok`, `failed` (threw or rejected), or `timeout` (still running after `timeoutMs`). */
  outcome: "ok" | "failed" | "timeout";
  /** Milliseconds it took (or until it was cut off). */
  durationMs: number;
}

/** What a shutdown did. */
export interface ShutdownResult {
  /** Why it happened (`SIGTERM`, `fatal error`, …). */
  reason: string;
  /** One entry per handler, in the order they ran. */
  steps: ShutdownStepResult[];
  /** True when every handler finished in time without error. */
  clean: boolean;
}

/** Options of {@link createShutdown}. */
export interface ShutdownOptions {
  /** Where progress and failures are logged. */
  logger: Logger;
  /** Time each handler gets before it is abandoned; default 10 000 ms. */
  timeoutMs?: number;
  /** Signals that start a shutdown; default `SIGTERM` and `SIGINT`. `[]` installs no listener. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Called after a signal-triggered shutdown with 0 (clean) or 1; default `process.exit`. Pass
   * `false` to keep the process running (the caller decides), or a function in tests.
   */
  exit?: ((code: number) => void) | false;
}

/** A graceful-shutdown coordinator; see {@link createShutdown}. */
export interface Shutdown {
  /**
   * Registers a cleanup step. Steps run in reverse registration order (register the server after
   * the database it uses, and it is closed before it). Returns a function that unregisters it.
   */
  register(name: string, handler: ShutdownHandler): () => void;
  /**
   * Runs every step once and resolves with what happened; later calls (and later signals) get the
   * same promise. With `exitCode`, the process then exits with it (through the `exit` option).
   */
  shutdown(reason: string, options?: { exitCode?: number }): Promise<ShutdownResult>;
  /** True once a shutdown has started. */
  readonly shuttingDown: boolean;
  /** Removes the signal listeners (for tests and for code that outlives the helper). */
  dispose(): void;
}

/**
 * Creates the process's shutdown coordinator and installs listeners for `signals`. On a signal it
 * logs it, runs the registered steps in reverse order, each bounded by `timeoutMs` (a step that
 * throws or hangs is logged and the rest still run), then exits with 0 if all went well or 1
 * otherwise. A second signal during shutdown is logged and otherwise ignored.
 */
export function createShutdown(options: ShutdownOptions): Shutdown {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit =
    options.exit === undefined ? (code: number) => process.exit(code) : options.exit || undefined;
  const handlers: { name: string; handler: ShutdownHandler }[] = [];
  let running: Promise<ShutdownResult> | undefined;

  const runStep = async (name: string, handler: ShutdownHandler): Promise<ShutdownStepResult> => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    let outcome: ShutdownStepResult["outcome"];
    try {
      outcome = await Promise.race([
        Promise.resolve()
          .then(handler)
          .then(() => "ok" as const),
        timedOut,
      ]);
      if (outcome === "timeout") {
        logger.error({ step: name, timeoutMs }, "shutdown step timed out; continuing");
      }
    } catch (err) {
      outcome = "failed";
      logger.error({ err, step: name }, "shutdown step failed; continuing");
    } finally {
      clearTimeout(timer);
    }
    const durationMs = Math.round(performance.now() - started);
    return { name, outcome, durationMs };
  };

  const run = async (reason: string): Promise<ShutdownResult> => {
    logger.info({ reason, steps: handlers.length }, "shutting down");
    const steps: ShutdownStepResult[] = [];
    for (const { name, handler } of [...handlers].reverse()) {
      steps.push(await runStep(name, handler));
    }
    const clean = steps.every((s) => s.outcome === "ok");
    logger.info({ reason, clean, steps }, "shutdown complete");
    return { reason, steps, clean };
  };

  const shutdown = (reason: string, opts: { exitCode?: number } = {}) => {
    running ??= run(reason);
    if (opts.exitCode !== undefined) {
      const code = opts.exitCode;
      return running.then((result) => {
        exit?.(code);
        return result;
      });
    }
    return running;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (running !== undefined) {
      logger.warn({ signal }, "already shutting down");
      return;
    }
    logger.info({ signal }, "received signal");
    shutdown(signal).then(
      (result) => exit?.(result.clean ? 0 : 1),
      // run() never rejects, but a logger that throws must not leave a hanging process.
      () => exit?.(1),
    );
  };

  for (const signal of signals) process.on(signal, onSignal);

  return {
    register(name, handler) {
      const entry = { name, handler };
      handlers.push(entry);
      return () => {
        const i = handlers.indexOf(entry);
        if (i >= 0) handlers.splice(i, 1);
      };
    },
    shutdown,
    get shuttingDown() {
      return running !== undefined;
    },
    dispose() {
      for (const signal of signals) process.off(signal, onSignal);
    },
  };
}
