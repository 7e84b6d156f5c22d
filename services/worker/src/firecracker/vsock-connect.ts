/**
 * The host side of Firecracker's vsock: a host-initiated connection is a connection to the
 * device's unix socket followed by `CONNECT <port>\n`; Firecracker answers `OK <host port>\n`
 * once the guest accepted, and from then on the stream is the guest's. The agent client speaks
 * to a plain unix socket, so each VM gets a relay socket that does the handshake per connection.
 * @module
 */
import net from "node:net";

/** Longest line Firecracker's answer may be (`OK 1073741824\n`). */
const MAX_REPLY = 64;

/**
 * Connects to guest port `port` through the vsock device at `udsPath`; resolves with the socket
 * once Firecracker said `OK`, with anything the guest sent after it pushed back for the reader.
 */
export function connectVsock(udsPath: string, port: number, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(udsPath);
    let reply = Buffer.alloc(0);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new Error(`vsock ${udsPath}: no answer to CONNECT ${port}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      const nl = reply.indexOf(0x0a);
      if (nl < 0) {
        if (reply.length > MAX_REPLY) fail(new Error(`vsock ${udsPath}: malformed answer`));
        return;
      }
      const line = reply.subarray(0, nl).toString("latin1");
      socket.off("data", onData);
      socket.off("error", fail);
      socket.off("close", onClose);
      if (!/^OK \d+$/.test(line)) {
        fail(new Error(`vsock ${udsPath}: guest port ${port} refused (${JSON.stringify(line)})`));
        return;
      }
      clearTimeout(timer);
      socket.pause();
      const rest = reply.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onClose = () =>
      fail(new Error(`vsock ${udsPath}: closed before answering CONNECT ${port}`));
    socket.on("data", onData);
    socket.once("error", fail);
    socket.once("close", onClose);
    socket.once("connect", () => socket.write(`CONNECT ${port}\n`));
  });
}

/**
 * Listens on `relayPath`; every connection is joined to guest port `port` through the vsock
 * device at `udsPath` (a refused or failed handshake closes it). Resolves with a close function.
 */
export async function relayVsock(
  relayPath: string,
  udsPath: string,
  port: number,
): Promise<() => Promise<void>> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.once("close", () => open.delete(client));
    client.pause();
    connectVsock(udsPath, port).then(
      (guest) => {
        open.add(guest);
        guest.once("close", () => open.delete(guest));
        client.pipe(guest).pipe(client);
        client.once("error", () => guest.destroy());
        guest.once("error", () => client.destroy());
        client.once("close", () => guest.destroy());
        guest.once("close", () => client.destroy());
        client.resume();
        guest.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(relayPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
