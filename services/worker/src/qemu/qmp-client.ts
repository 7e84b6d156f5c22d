import net from "node:net";
import { createInterface } from "node:readline";

/**
 * Runs QMP commands on a QEMU monitor socket: connects, negotiates capabilities, sends each
 * command in turn and returns their `return` values (events in between are skipped). Bounded by
 * `timeoutMs` as a whole. QEMU serves one monitor client at a time, so this holds it briefly.
 */
export async function qmpCommands(
  socketPath: string,
  commands: readonly { execute: string; arguments?: object }[],
  timeoutMs = 3000,
): Promise<unknown[]> {
  const socket = net.createConnection(socketPath);
  const lines = createInterface({ input: socket });
  const results: unknown[] = [];
  const timer = setTimeout(
    () => socket.destroy(new Error(`QMP at ${socketPath}: no answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const closed = new Promise<never>((_, reject) => {
      socket.once("error", reject);
      socket.once("close", () => reject(new Error(`QMP at ${socketPath} closed`)));
    });
    closed.catch(() => undefined);
    const iterator = lines[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> => {
      for (;;) {
        const step: IteratorResult<string> = await Promise.race([iterator.next(), closed]);
        if (step.done === true) throw new Error(`QMP at ${socketPath} closed`);
        const message = JSON.parse(step.value) as Record<string, unknown>;
        if (!("event" in message)) return message;
      }
    };
    await next(); // the greeting
    for (const command of [{ execute: "qmp_capabilities" }, ...commands]) {
      socket.write(`${JSON.stringify(command)}\n`);
      const reply = await next();
      if ("error" in reply) {
        const error = reply.error as { desc?: string };
        throw new Error(`QMP ${command.execute} failed: ${error.desc ?? "unknown error"}`);
      }
      if (command.execute !== "qmp_capabilities") results.push(reply.return);
    }
    return results;
  } finally {
    clearTimeout(timer);
    lines.close();
    socket.destroy();
  }
}
