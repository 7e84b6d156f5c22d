import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { startRecordingServer, type RecordingServer } from "./recording-server.js";

/**
 * A local stand-in for Discord's API (`/api/v10`), speaking its documented wire format for what
 * Aetherium calls: `PATCH /webhooks/{application}/{token}/messages/@original` (edit an
 * interaction's deferred response) and `PUT /applications/{application}/commands` (overwrite
 * global commands; `Bot <token>` required, else Discord's 401).
 */
export interface FakeDiscordServer extends RecordingServer {
  /** The API base to configure (`…/api/v10`). */
  readonly apiBaseUrl: string;
  /** Contents the original responses were edited to, in order. */
  edits(): { token: string; content: string }[];
}

/** Starts the fake; `botToken` is the token command registration accepts. */
export async function startFakeDiscordServer(botToken: string): Promise<FakeDiscordServer> {
  let id = 1_100_000_000_000_000_000n;
  const server = await startRecordingServer([
    {
      method: "PATCH",
      pattern: /^\/api\/v10\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/,
      answer: (r, m) => ({
        status: 200,
        body: {
          id: String(id++),
          application_id: m[1],
          content: (r.body as { content?: string }).content,
        },
      }),
    },
    {
      method: "PUT",
      pattern: /^\/api\/v10\/applications\/(\d+)\/commands$/,
      answer: (r, m) =>
        r.headers.authorization === `Bot ${botToken}`
          ? {
              status: 200,
              body: (r.body as { name: string }[]).map((c) => ({
                ...c,
                id: String(id++),
                application_id: m[1],
                version: "1",
              })),
            }
          : { status: 401, body: { message: "401: Unauthorized", code: 0 } },
    },
  ]);
  return {
    ...server,
    apiBaseUrl: `${server.url}/api/v10`,
    edits: () =>
      server.requests
        .filter((r) => r.method === "PATCH")
        .map((r) => ({
          token: decodeURIComponent(r.path.split("/")[5] ?? ""),
          content: String((r.body as { content?: string }).content),
        })),
  };
}

/** An application's Ed25519 key pair, made fresh, signing as Discord signs interactions. */
export interface DiscordSigner {
  /** The public key as the Developer Portal shows it (64 hex characters). */
  readonly publicKeyHex: string;
  /** Headers `X-Signature-Ed25519` and `X-Signature-Timestamp` for `body`. */
  headers(body: string, timestampSec?: number): Record<string, string>;
}

/** A new key pair for one test. */
export function createDiscordSigner(): DiscordSigner {
  const { publicKey, privateKey }: { publicKey: KeyObject; privateKey: KeyObject } =
    generateKeyPairSync("ed25519");
  const der = publicKey.export({ format: "der", type: "spki" });
  return {
    publicKeyHex: der.subarray(der.length - 32).toString("hex"),
    headers(body, timestampSec = Math.floor(Date.now() / 1000)) {
      const ts = String(timestampSec);
      const signature = sign(null, Buffer.from(ts + body, "utf8"), privateKey).toString("hex");
      return { "x-signature-ed25519": signature, "x-signature-timestamp": ts };
    },
  };
}
