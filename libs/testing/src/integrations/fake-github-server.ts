import { createHmac } from "node:crypto";
import {
  startRecordingServer,
  type RecordedRequest,
  type RecordingServer,
} from "./recording-server.js";

/**
 * A local stand-in for GitHub's REST API, speaking its documented wire format for what
 * Aetherium calls: `POST /repos/{owner}/{repo}/issues/{n}/comments`,
 * `POST /repos/{owner}/{repo}/pulls/{n}/comments/{id}/replies` and
 * `POST /repos/{owner}/{repo}/statuses/{sha}`. A wrong token gets GitHub's 401 "Bad credentials".
 */
export interface FakeGithubServer extends RecordingServer {
  /** Bodies of comments posted, in order, with where they went. */
  comments(): { path: string; body: string }[];
  /** Commit statuses set, in order. */
  statuses(): { sha: string; state: string; context: string; description: string }[];
}

/** Starts the fake; requests must carry `token` as GitHub accepts it (`token …` or `Bearer …`). */
export async function startFakeGithubServer(token: string): Promise<FakeGithubServer> {
  let nextId = 1000;
  const authorized = (r: RecordedRequest) => {
    const auth = String(r.headers.authorization ?? "");
    return auth === `token ${token}` || auth === `Bearer ${token}`;
  };
  const badCredentials = {
    status: 401,
    body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" },
  };
  const server = await startRecordingServer([
    {
      method: "POST",
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/,
      answer: (r, m) => {
        if (!authorized(r)) return badCredentials;
        const id = nextId++;
        return {
          status: 201,
          body: {
            id,
            body: (r.body as { body?: string }).body,
            html_url: `https://github.com/${m[1]}/${m[2]}/issues/${m[3]}#issuecomment-${id}`,
          },
        };
      },
    },
    {
      method: "POST",
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)\/comments\/(\d+)\/replies$/,
      answer: (r) => {
        if (!authorized(r)) return badCredentials;
        return { status: 201, body: { id: nextId++, body: (r.body as { body?: string }).body } };
      },
    },
    {
      method: "POST",
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{7,40})$/,
      answer: (r) => {
        if (!authorized(r)) return badCredentials;
        return { status: 201, body: { id: nextId++, ...(r.body as object) } };
      },
    },
  ]);
  return {
    ...server,
    comments: () =>
      server.requests
        .filter((r) => /\/(comments|replies)$/.test(r.path))
        .map((r) => ({ path: r.path, body: String((r.body as { body?: string }).body) })),
    statuses: () =>
      server.requests
        .filter((r) => r.path.includes("/statuses/"))
        .map((r) => {
          const b = r.body as { state: string; context: string; description: string };
          return {
            sha: r.path.split("/").at(-1)!,
            state: b.state,
            context: b.context,
            description: b.description,
          };
        }),
  };
}

/** Signs a webhook body as GitHub does: `sha256=` + hex HMAC-SHA256 with the webhook secret. */
export function githubSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}
