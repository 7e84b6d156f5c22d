import { randomBytes, randomUUID } from "node:crypto";
import { loadConfig, type Config } from "@aetherium/common";
import {
  createDiscordSigner,
  githubSignature,
  slackHeaders,
  startFakeDiscordServer,
  startFakeGithubServer,
  startFakeSlackServer,
  type FakeDiscordServer,
  type FakeGithubServer,
  type FakeSlackServer,
} from "@aetherium/testing";
import type { IntegrationDelivery } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayApp } from "../server/build-server.js";
import { expectEnvelope, useGatewayFixture, type CallAnswer } from "../testing/gateway-fixture.js";
import { registerDiscordCommands } from "./discord/register-discord-commands.js";

// Every provider's bad input against a real gateway and database, with no worker: whatever a
// refused request would have started would show up as a task, and none may.
const gw = useGatewayFixture();
const GITHUB_SECRET = randomBytes(16).toString("hex");
const GITHUB_TOKEN = `ghp_${randomBytes(12).toString("hex")}`;
const SLACK_SECRET = randomBytes(16).toString("hex");
const SLACK_BOT = `xoxb-${randomBytes(8).toString("hex")}`;
const DISCORD_BOT = randomBytes(16).toString("hex");
const REPO = "acme/widgets";
const discord = createDiscordSigner();
let github: FakeGithubServer;
let slack: FakeSlackServer;
let discordApi: FakeDiscordServer;
let config: Config;
let app: GatewayApp;

beforeAll(async () => {
  github = await startFakeGithubServer(GITHUB_TOKEN);
  slack = await startFakeSlackServer(SLACK_BOT);
  discordApi = await startFakeDiscordServer(DISCORD_BOT);
  config = loadConfig({
    env: {
      AETHERIUM_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
      AETHERIUM_GITHUB_TOKEN: GITHUB_TOKEN,
      AETHERIUM_INTEGRATIONS__GITHUB__API_BASE_URL: github.url,
      AETHERIUM_INTEGRATIONS__GITHUB__SANDBOXES: `${REPO}=no-such-sandbox`,
      AETHERIUM_SLACK_SIGNING_SECRET: SLACK_SECRET,
      AETHERIUM_SLACK_BOT_TOKEN: SLACK_BOT,
      AETHERIUM_INTEGRATIONS__SLACK__API_BASE_URL: slack.apiBaseUrl,
      AETHERIUM_DISCORD_PUBLIC_KEY: discord.publicKeyHex,
      AETHERIUM_DISCORD_APPLICATION_ID: "123456789012345678",
      AETHERIUM_DISCORD_BOT_TOKEN: DISCORD_BOT,
      AETHERIUM_INTEGRATIONS__DISCORD__API_BASE_URL: discordApi.apiBaseUrl,
      AETHERIUM_INTEGRATIONS__MAX_BODY_BYTES: "4096",
    },
  });
  app = await gw.open({ integrations: config.integrations });
});

afterAll(async () => {
  await github?.close();
  await slack?.close();
  await discordApi?.close();
});

async function post(
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<Pick<CallAnswer, "status" | "body">> {
  const res = await app.inject({ method: "POST", url: path, payload: body, headers });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
}

function githubHook(
  event: string,
  payload: unknown,
  opts: { delivery?: string; secret?: string } = {},
) {
  const body = JSON.stringify(payload);
  return post("/api/v1/integrations/github/webhook", body, {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": opts.delivery ?? randomUUID(),
    "x-hub-signature-256": githubSignature(opts.secret ?? GITHUB_SECRET, body),
  });
}

function comment(body: string, repo = REPO) {
  const [owner, name] = repo.split("/");
  return {
    action: "created",
    issue: { number: 7 },
    comment: { id: 99, body },
    repository: { full_name: repo, name, owner: { login: owner } },
  };
}

function slackCommand(
  text: string,
  opts: { timestamp?: number; secret?: string; trigger?: string } = {},
) {
  const body = new URLSearchParams({
    command: "/aether",
    text,
    response_url: slack.responseUrl(),
    trigger_id: opts.trigger ?? randomUUID(),
    team_id: "T000",
    user_id: "U000",
  }).toString();
  return post("/api/v1/integrations/slack/commands", body, {
    "content-type": "application/x-www-form-urlencoded",
    ...slackHeaders(opts.secret ?? SLACK_SECRET, body, opts.timestamp),
  });
}

function interaction(payload: object, opts: { timestamp?: number; signer?: typeof discord } = {}) {
  const body = JSON.stringify({ application_id: "123456789012345678", ...payload });
  return post("/api/v1/integrations/discord/interactions", body, {
    "content-type": "application/json",
    ...(opts.signer ?? discord).headers(body, opts.timestamp),
  });
}

const aether = (sub: string, options: Record<string, string> = {}) => ({
  id: randomBytes(8).readBigUInt64BE().toString(),
  type: 2,
  token: `itoken-${randomBytes(6).toString("hex")}`,
  data: {
    name: "aether",
    options: [
      {
        type: 1,
        name: sub,
        options: Object.entries(options).map(([name, value]) => ({ type: 3, name, value })),
      },
    ],
  },
});

/** No command was queued (the one sandbox a test makes through the API is not a command). */
async function startedNothing() {
  const tasks = await gw.runtime.tasks.list({ limit: 500 });
  expect(tasks.items.filter((t) => t.type !== "vm:create")).toEqual([]);
}

describe("GitHub webhooks", () => {
  it("answers ping and records it", async () => {
    const delivery = randomUUID();
    const r = await githubHook(
      "ping",
      { zen: "Keep it logically awesome.", hook_id: 1 },
      { delivery },
    );
    expect(r).toMatchObject({ status: 200, body: { pong: true } });
    const list = await gw.call("GET", "/api/v1/integrations/deliveries?integration=github");
    expect(list.body.items[0]).toMatchObject({
      event: "ping",
      deliveryId: delivery,
      verified: true,
      outcome: "answered",
    });
  });

  it("refuses a missing or forged signature and records it unverified", async () => {
    const body = JSON.stringify(comment("/aether run make"));
    const missing = await post("/api/v1/integrations/github/webhook", body, {
      "content-type": "application/json",
      "x-github-event": "issue_comment",
      "x-github-delivery": randomUUID(),
    });
    expect(missing.status).toBe(401);
    expect(expectEnvelope(missing.body, "unauthorized").error.message).toMatch(
      /X-Hub-Signature-256/,
    );
    const forged = await githubHook("issue_comment", comment("/aether run make"), {
      secret: "not-the-secret",
    });
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/does not match/);
    const list = await gw.call("GET", "/api/v1/integrations/deliveries?integration=github&limit=2");
    expect((list.body.items as IntegrationDelivery[]).map((d) => [d.verified, d.outcome])).toEqual([
      [false, "refused"],
      [false, "refused"],
    ]);
    await startedNothing();
  });

  it("refuses a replayed delivery with 409, and a forged copy cannot claim a delivery id", async () => {
    const delivery = randomUUID();
    // A forgery with the id first: it must not stop the real delivery.
    expect((await githubHook("ping", { zen: "x" }, { delivery, secret: "forged" })).status).toBe(
      401,
    );
    expect((await githubHook("ping", { zen: "x" }, { delivery })).status).toBe(200);
    const again = await githubHook("ping", { zen: "x" }, { delivery });
    expect(again.status).toBe(409);
    expect(expectEnvelope(again.body, "conflict").error.message).toMatch(/already received/);
  });

  it("ignores comments that do not address it", async () => {
    const r = await githubHook("issue_comment", comment("LGTM, /aether later"));
    expect(r).toMatchObject({ status: 200, body: { ignored: true } });
    await startedNothing();
  });

  it("answers an unknown sandbox with 404 and a comment saying so, starting nothing", async () => {
    const before = github.comments().length;
    const r = await githubHook("issue_comment", comment("/aether run make test"));
    expect(r.status).toBe(404);
    expect(r.body.error.message).toBe("sandbox no-such-sandbox does not exist");
    const posted = await github.waitFor(
      (q) => q.path === `/repos/${REPO}/issues/7/comments` && github.requests.indexOf(q) >= before,
    );
    expect(String((posted.body as { body: string }).body)).toContain(
      "sandbox no-such-sandbox does not exist",
    );
    expect(posted.headers.authorization).toBe(`token ${GITHUB_TOKEN}`);
    await startedNothing();
  });

  it("answers a pull request review comment in its thread", async () => {
    const [owner, name] = REPO.split("/");
    const r = await githubHook("pull_request_review_comment", {
      action: "created",
      pull_request: { number: 8 },
      comment: { id: 4242, body: "/aether run npm test" },
      repository: { full_name: REPO, name, owner: { login: owner } },
    });
    expect(r.status).toBe(404);
    const reply = await github.waitFor(
      (q) => q.path === `/repos/${REPO}/pulls/8/comments/4242/replies`,
    );
    expect(String((reply.body as { body: string }).body)).toMatch(/no-such-sandbox does not exist/);
    await startedNothing();
  });

  it("says which setting is missing for a repository without a sandbox, and that prompts need workspaces", async () => {
    const r = await githubHook("issue_comment", comment("/aether run ls", "acme/other"));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/no sandbox is configured for acme\/other/);
    const p = await githubHook("issue_comment", comment("/aether fix the flaky test"));
    expect(r.status).toBe(400);
    expect(p.status).toBe(400);
    expect(p.body.error.message).toMatch(/no workspace is configured/);
    await startedNothing();
  });

  it("refuses a payload over integrations.maxBodyBytes with 413", async () => {
    const r = await githubHook("issue_comment", comment(`/aether run ${"x".repeat(5000)}`));
    expect(r.status).toBe(413);
    expectEnvelope(r.body, "payload_too_large");
    await startedNothing();
  });
});

describe("Slack", () => {
  it("refuses missing, forged and stale signatures with 401", async () => {
    const body = "command=%2Faether&text=ls";
    const missing = await post("/api/v1/integrations/slack/commands", body, {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(missing.status).toBe(401);
    const forged = await slackCommand("ls", { secret: "wrong" });
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/does not match/);
    const stale = await slackCommand("ls", { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toMatch(/five minutes/);
    await startedNothing();
  });

  it("answers unknown commands, unknown sandboxes and unknown workspaces in the channel", async () => {
    const unknown = await slackCommand("deploy prod");
    expect(unknown).toMatchObject({ status: 200, body: { response_type: "ephemeral" } });
    expect(unknown.body.text).toMatch(/unknown command "deploy"/);
    const missing = await slackCommand("run ghost echo hi");
    expect(missing.body.text).toMatch(/sandbox ghost does not exist/);
    const prompt = await slackCommand("prompt my-ws write tests");
    expect(prompt.body.text).toMatch(/workspace my-ws does not exist/);
    await startedNothing();
  });

  it("lists sandboxes with ls, and refuses a replayed trigger with 409", async () => {
    await gw.call("POST", "/api/v1/vms", { body: { name: "slack-listed" } });
    const trigger = randomUUID();
    const ls = await slackCommand("ls", { trigger });
    expect(ls.status).toBe(200);
    expect(ls.body.text).toMatch(/slack-listed \(.+\) pending/);
    expect((await slackCommand("ls", { trigger })).status).toBe(409);
  });

  it("answers the Events API's url_verification and refuses an unsigned event", async () => {
    const body = JSON.stringify({
      type: "url_verification",
      challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    });
    const ok = await post("/api/v1/integrations/slack/events", body, {
      "content-type": "application/json",
      ...slackHeaders(SLACK_SECRET, body),
    });
    expect(ok).toMatchObject({
      status: 200,
      body: { challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" },
    });
    const bad = await post("/api/v1/integrations/slack/events", body, {
      "content-type": "application/json",
    });
    expect(bad.status).toBe(401);
  });

  it("answers an app mention in its thread through chat.postMessage", async () => {
    const body = JSON.stringify({
      type: "event_callback",
      event_id: `Ev${randomBytes(5).toString("hex")}`,
      event: {
        type: "app_mention",
        text: "<@U0BOT> run ghost uptime",
        channel: "C123",
        ts: "1700000000.000100",
      },
    });
    const r = await post("/api/v1/integrations/slack/events", body, {
      "content-type": "application/json",
      ...slackHeaders(SLACK_SECRET, body),
    });
    expect(r.status).toBe(200);
    const said = await slack.waitFor((q) => q.path === "/api/chat.postMessage");
    expect(said.body).toMatchObject({ channel: "C123", thread_ts: "1700000000.000100" });
    expect(String((said.body as { text: string }).text)).toMatch(/sandbox ghost does not exist/);
  });
});

describe("Discord", () => {
  it("answers PING with PONG", async () => {
    const r = await interaction({ id: "1000000000000000001", type: 1 });
    expect(r).toEqual({ status: 200, body: { type: 1 } });
  });

  it("refuses a signature from another key, a missing one and a stale one", async () => {
    const other = createDiscordSigner();
    expect(
      (await interaction({ id: "1000000000000000002", type: 1 }, { signer: other })).status,
    ).toBe(401);
    const missing = await post("/api/v1/integrations/discord/interactions", '{"type":1}', {
      "content-type": "application/json",
    });
    expect(missing.status).toBe(401);
    const stale = await interaction(
      { id: "1000000000000000003", type: 1 },
      { timestamp: Math.floor(Date.now() / 1000) - 3600 },
    );
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toMatch(/five minutes/);
  });

  it("answers bad commands ephemerally and refuses a replayed interaction", async () => {
    const unknown = await interaction(aether("deploy"));
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(unknown.body.data.content).toMatch(/unknown subcommand "deploy"/);
    const ghost = aether("run", { sandbox: "ghost", command: "id" });
    const r = await interaction(ghost);
    expect(r.body.data.content).toMatch(/sandbox ghost does not exist/);
    expect((await interaction(ghost)).status).toBe(409);
    const prompt = await interaction(aether("prompt", { workspace: "ws", text: "hi" }));
    expect(prompt.body.data.content).toMatch(/workspace ws does not exist/);
    await startedNothing();
  });

  it("registers the /aether command through Discord's API with the bot token", async () => {
    expect(await registerDiscordCommands(config)).toEqual(["aether"]);
    const put = await discordApi.waitFor((q) => q.method === "PUT");
    expect(put.path).toBe("/api/v10/applications/123456789012345678/commands");
    expect((put.body as { options: { name: string }[] }[])[0]?.options.map((o) => o.name)).toEqual([
      "run",
      "prompt",
      "ls",
    ]);
    const wrong = loadConfig({
      env: {
        AETHERIUM_DISCORD_APPLICATION_ID: "1",
        AETHERIUM_DISCORD_BOT_TOKEN: "wrong",
        AETHERIUM_INTEGRATIONS__DISCORD__API_BASE_URL: discordApi.apiBaseUrl,
      },
    });
    await expect(registerDiscordCommands(wrong)).rejects.toThrow(
      /Discord refused the commands: 401/,
    );
  });
});

describe("deliveries", () => {
  it("pages newest first, needs read, and keeps secrets out", async () => {
    const first = await gw.call("GET", "/api/v1/integrations/deliveries?limit=3");
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(3);
    const next = await gw.call(
      "GET",
      `/api/v1/integrations/deliveries?limit=3&cursor=${first.body.nextCursor}`,
    );
    expect(next.body.items[0].receivedAt <= first.body.items[2].receivedAt).toBe(true);
    expect((await gw.call("GET", "/api/v1/integrations/deliveries", { key: null })).status).toBe(
      401,
    );
    const bad = await gw.call("GET", "/api/v1/integrations/deliveries?integration=teams");
    expect(bad.status).toBe(400);
    const all = JSON.stringify(
      (await gw.call("GET", "/api/v1/integrations/deliveries?limit=500")).body,
    );
    for (const secret of [GITHUB_SECRET, GITHUB_TOKEN, SLACK_SECRET, SLACK_BOT, DISCORD_BOT]) {
      expect(all).not.toContain(secret);
    }
  });

  it("answers 404 on an integration that is not configured", async () => {
    const off = await gw.open();
    const r = await off.inject({
      method: "POST",
      url: "/api/v1/integrations/github/webhook",
      payload: "{}",
    });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.details.hint).toMatch(/AETHERIUM_GITHUB_WEBHOOK_SECRET/);
  });
});
