import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectVsock, relayVsock } from "./vsock-connect.js";

/**
 * A stand-in for Firecracker's vsock muxer on its unix socket: reads `CONNECT <port>\n`, answers
 * `OK <n>\n` for `open` ports (then echoes, prefixed, as a guest service would answer) and closes
 * the connection for the others, as Firecracker does when nothing listens in the guest.
 */
async function fakeMuxer(udsPath: string, open: number): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      const nl = head.indexOf("\n");
      if (nl < 0) return;
      socket.off("data", onData);
      const m = /^CONNECT (\d+)$/.exec(head.slice(0, nl));
      if (!m || Number(m[1]) !== open) {
        socket.destroy();
        return;
      }
      // The answer and the guest's first bytes in one write: the client must not lose them.
      socket.write("OK 1073741824\nhello ");
      socket.on("data", (d: Buffer) => socket.write(`guest:${d.toString()}`));
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(udsPath, resolve));
  return server;
}

function readSome(socket: net.Socket, want: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => reject(new Error(`got only ${JSON.stringify(got)}`)), 5000);
    socket.on("data", (d: Buffer) => {
      got += d.toString();
      if (got.includes(want)) {
        clearTimeout(timer);
        resolve(got);
      }
    });
    socket.resume();
  });
}

describe("vsock host-side handshake", () => {
  let dir: string | undefined;
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("connects after CONNECT/OK and keeps the bytes that came with the answer", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "aet-vsock-"));
    const uds = path.join(dir, "v.sock");
    servers.push(await fakeMuxer(uds, 1024));
    const socket = await connectVsock(uds, 1024);
    socket.write("ping");
    expect(await readSome(socket, "guest:ping")).toBe("hello guest:ping");
    socket.destroy();
    await expect(connectVsock(uds, 9)).rejects.toThrow(/port 9|closed|ECONNRESET|refused/);
  });

  it("relays a plain unix socket to the guest port, one handshake per connection", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "aet-vsock-"));
    const uds = path.join(dir, "v.sock");
    servers.push(await fakeMuxer(uds, 52));
    const close = await relayVsock(path.join(dir, "agent.sock"), uds, 52);
    try {
      for (const word of ["one", "two"]) {
        const client = net.connect(path.join(dir, "agent.sock"));
        client.write(word);
        expect(await readSome(client, `guest:${word}`)).toBe(`hello guest:${word}`);
        client.destroy();
      }
    } finally {
      await close();
    }
  });
});
