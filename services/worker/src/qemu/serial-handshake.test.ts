import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERIAL_SYNC_PREFIX } from "@aetherium/agent";
import { serialHandshake } from "./serial-handshake.js";

// The host side of the serial sync against a stand-in port: a unix socket server that answers
// the sync line the way the guest agent does, after whatever stale bytes a test puts first.
describe("serialHandshake", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "aeth-sync-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function port(answer: (line: string, socket: net.Socket) => void) {
    const file = path.join(dir, `${Math.random().toString(36).slice(2)}.sock`);
    const server = net.createServer((socket) => {
      let got = "";
      socket.on("data", (d: Buffer) => {
        got += d.toString("latin1");
        const nl = got.indexOf("\n");
        if (nl >= 0) answer(got.slice(0, nl + 1), socket);
      });
    });
    await new Promise<void>((resolve) => server.listen(file, resolve));
    const socket = net.createConnection(file);
    await new Promise((resolve) => socket.once("connect", resolve));
    return { socket, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  it("skips stale bytes before the echo of its nonce and leaves what follows readable", async () => {
    const p = await port((line, s) => {
      // An earlier connection's output, an earlier sync echo, then this one's echo and a reply.
      s.write(
        `Content-Length: 99\r\n\r\n{"half":${SERIAL_SYNC_PREFIX}00000000000000000000000000000000\n`,
      );
      s.write(line.slice(0, 7));
      setTimeout(() => s.write(`${line.slice(7)}Content-Length: 2\r\n\r\n{}`), 20);
    });
    expect(await serialHandshake(p.socket, 5000)).toBeUndefined();
    const rest = await new Promise<string>((resolve) => {
      let text = "";
      p.socket.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.endsWith("{}")) resolve(text);
      });
    });
    expect(rest).toBe("Content-Length: 2\r\n\r\n{}");
    expect(p.socket.readableFlowing).toBe(true);
    p.socket.destroy();
    await p.close();
  });

  it("times out when nothing echoes its nonce, and fails when the port closes", async () => {
    const silent = await port(() => {});
    await expect(serialHandshake(silent.socket, 300)).rejects.toThrow(/no answer/);
    silent.socket.destroy();
    await silent.close();
    const closing = await port((_line, s) => s.end("not a sync line\n"));
    await expect(serialHandshake(closing.socket, 5000)).rejects.toThrow(/closed/);
    closing.socket.destroy();
    await closing.close();
  });
});
