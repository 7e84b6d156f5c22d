import { randomBytes, randomUUID } from "node:crypto";
import { createLogger } from "@aetherium/common";
import { Migrator, openDatabase, type ControlPlane } from "@aetherium/core";
import { startGatewayProcess, type GatewayProcess } from "@aetherium/gateway";
import {
  createDiscordSigner,
  githubSignature,
  slackHeaders,
  startFakeDiscordServer,
  startFakeGithubServer,
  startFakeSlackServer,
  useTestDatabase,
  useTestRedis,
  type FakeDiscordServer,
  type FakeGithubServer,
  type FakeSlackServer,
  TEST_ENCRYPTION_KEY,
} from "@aetherium/testing";
import type { IntegrationDelivery, Task } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fleet/fleet.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// GitHub, Slack and Discord driving a real sandbox: signed requests into the gateway started by
// its own root, over PostgreSQL, Redis (queue and events) and a Docker worker; results arrive at
// local servers speaking each provider's wire format.
const here = await dockerSandboxesHere();
if (!here.ok) console.warn(`skipping integration flow tests: ${here.detail}`);
const PREBUILT = process.env.AETHERIUM_TEST_SANDBOX_IMAGE;

describe.skipIf(!here.ok)("integrations drive a real sandbox", () => {
  const db = useTestDatabase();
  const redis = useTestRedis();
  const GITHUB_SECRET = randomBytes(16).toString("hex");
  const GITHUB_TOKEN = `ghp_${randomBytes(12).toString("hex")}`;
  const SLACK_SECRET = randomBytes(16).toString("hex");
  const SLACK_BOT = `xoxb-${randomBytes(8).toString("hex")}`;
  // A value the sandbox holds: it must never come back to a provider.
  const DEPLOY_TOKEN = `dt-${randomBytes(12).toString("hex")}`;
  const APP_ID = "223456789012345678";
  const REPO = "acme/widgets";
  const BOX = `integ-${randomBytes(3).toString("hex")}`;
  const discord = createDiscordSigner();
  let github: FakeGithubServer;
  let slack: FakeSlackServer;
  let discordApi: FakeDiscordServer;
  let fixture: TestWorker;
  let runtime: ControlPlane;
  let gateway: GatewayProcess;
  let url: string;

  beforeAll(async () => {
    github = await startFakeGithubServer(GITHUB_TOKEN);
    slack = await startFakeSlackServer(SLACK_BOT);
    discordApi = await startFakeDiscordServer("unused");
    // Distributed mode does not migrate by itself (that is `aetherium migrate up`).
    const handle = await openDatabase({ url: db.current.url });
    await new Migrator(handle.db).up();
    await handle.close();
    fixture = await startTestWorker(
      "integ",
      {
        AETHERIUM_WORKER_ID: `integ-${randomBytes(4).toString("hex")}`,
        AETHERIUM_DATABASE_URL: db.current.url,
        AETHERIUM_REDIS_URL: redis.current.url,
        AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
        AETHERIUM_HOST: "127.0.0.1",
        AETHERIUM_PORT: "0",
        AETHERIUM_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
        AETHERIUM_GITHUB_TOKEN: GITHUB_TOKEN,
        AETHERIUM_INTEGRATIONS__GITHUB__API_BASE_URL: github.url,
        AETHERIUM_INTEGRATIONS__GITHUB__SANDBOXES: `${REPO}=${BOX}`,
        AETHERIUM_INTEGRATIONS__GITHUB__CHECKS: `${REPO}=test -f /etc/os-release && echo check-ok`,
        AETHERIUM_SLACK_SIGNING_SECRET: SLACK_SECRET,
        AETHERIUM_SLACK_WEBHOOK_URL: slack.webhookUrl,
        AETHERIUM_SLACK_BOT_TOKEN: SLACK_BOT,
        AETHERIUM_INTEGRATIONS__SLACK__API_BASE_URL: slack.apiBaseUrl,
        AETHERIUM_INTEGRATIONS__SLACK__NOTIFY_CHANNEL: "C0NOTIFY",
        AETHERIUM_DISCORD_PUBLIC_KEY: discord.publicKeyHex,
        AETHERIUM_INTEGRATIONS__DISCORD__API_BASE_URL: discordApi.apiBaseUrl,
        AETHERIUM_INTEGRATIONS__RESULT_MAX_BYTES: "2048",
      },
      { internalHost: "127.0.0.1", ...(PREBUILT ? { sandbox: { image: PREBUILT } } : {}) },
    );
    runtime = fixture.runtime;
    gateway = await startGatewayProcess(runtime, fixture.config, {
      logger: createLogger({ service: "integ-gw", level: "silent" }),
      reaper: false,
    });
    url = gateway.gateway.url;
    const { vm, taskId } = await runtime.vms.create({
      name: BOX,
      memoryMb: 256,
      env: { DEPLOY_TOKEN },
      ...(PREBUILT ? { image: PREBUILT } : {}),
    });
    const created = await waitFor(
      async () => {
        const t: Task = await runtime.tasks.get(taskId);
        return ["succeeded", "failed", "cancelled"].includes(t.status) && t;
      },
      "the sandbox",
      120_000,
    );
    expect(created.status, created.error ?? "").toBe("succeeded");
    expect((await runtime.vms.get(vm.id)).status).toBe("running");
  }, 400_000);

  afterAll(async () => {
    await gateway?.close();
    await fixture?.close();
    await github?.close();
    await slack?.close();
    await discordApi?.close();
  }, 60_000);

  const send = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${url}${path}`, { method: "POST", body, headers });

  async function delivery(id: string): Promise<IntegrationDelivery> {
    const page = await runtime.repos.integrationDeliveries.list({ limit: 500 });
    const row = page.items.find((d) => d.deliveryId === id);
    if (!row) throw new Error(`no delivery ${id}`);
    return row as unknown as IntegrationDelivery;
  }

  it("runs a signed PR comment's command in the sandbox and answers with a comment", async () => {
    const id = randomUUID();
    const body = JSON.stringify({
      action: "created",
      issue: { number: 12, pull_request: { url: "x" } },
      comment: {
        id: 1,
        body: "/aether run echo first-$((40+2)); seq 1 3000; echo token=$DEPLOY_TOKEN",
      },
      repository: { full_name: REPO, name: "widgets", owner: { login: "acme" } },
    });
    const res = await send("/api/v1/integrations/github/webhook", body, {
      "content-type": "application/json",
      "x-github-event": "issue_comment",
      "x-github-delivery": id,
      "x-hub-signature-256": githubSignature(GITHUB_SECRET, body),
    });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { taskId: string };
    expect(accepted.taskId).toBeTruthy();
    const posted = await github.waitFor(
      (r) => r.path === `/repos/${REPO}/issues/12/comments`,
      120_000,
    );
    const comment = String((posted.body as { body: string }).body);
    expect(comment).toMatch(/exited 0/);
    // The tail of the output, bounded, with the sandbox's secret redacted.
    expect(comment).toContain("\n3000\ntoken=[redacted]\n");
    expect(comment).not.toContain("first-42");
    expect(comment).toMatch(/earlier bytes not shown/);
    expect(comment.length).toBeLessThan(2600);
    expect(comment).not.toContain(DEPLOY_TOKEN);
    await waitFor(
      async () => (await delivery(id)).outcome === "succeeded",
      "the delivery's outcome",
    );
    expect(await delivery(id)).toMatchObject({
      verified: true,
      action: "run",
      target: BOX,
      taskId: accepted.taskId,
    });
    // Announced on the Slack incoming webhook and in the notification channel too.
    const note = await slack.waitFor((r) => r.path.startsWith("/webhook/"));
    expect(String((note.body as { text: string }).text)).toMatch(/^\[github\] .* exited 0/);
    const inChannel = await slack.waitFor((r) => r.path === "/api/chat.postMessage");
    expect(inChannel.headers.authorization).toBe(`Bearer ${SLACK_BOT}`);
    expect(inChannel.body).toMatchObject({ channel: "C0NOTIFY" });
    expect(String((inChannel.body as { text: string }).text)).not.toContain(DEPLOY_TOKEN);
  });

  it("runs the check command on a pull request and reports it as a commit status", async () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const body = JSON.stringify({
      action: "opened",
      pull_request: { number: 13, head: { sha } },
      repository: { full_name: REPO, name: "widgets", owner: { login: "acme" } },
    });
    const res = await send("/api/v1/integrations/github/webhook", body, {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": githubSignature(GITHUB_SECRET, body),
    });
    expect(res.status).toBe(202);
    await github.waitFor(
      (r) =>
        r.path === `/repos/${REPO}/statuses/${sha}` &&
        (r.body as { state: string }).state === "success",
      120_000,
    );
    expect(github.statuses().map((s) => s.state)).toEqual(["pending", "success"]);
    expect(github.statuses()[1]).toMatchObject({ context: "aetherium" });
  });

  it("runs a Slack slash command and posts the result to its response_url", async () => {
    const responseUrl = slack.responseUrl();
    const body = new URLSearchParams({
      command: "/aether",
      text: `run ${BOX} uname -s && exit 3`,
      response_url: responseUrl,
      trigger_id: `${Date.now()}.${randomBytes(4).toString("hex")}`,
    }).toString();
    const res = await send("/api/v1/integrations/slack/commands", body, {
      "content-type": "application/x-www-form-urlencoded",
      ...slackHeaders(SLACK_SECRET, body),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toMatch(
      /^Running `uname -s && exit 3` on/,
    );
    const path = new URL(responseUrl).pathname;
    const result = await slack.waitFor((r) => r.path === path, 120_000);
    expect(result.body).toMatchObject({ response_type: "in_channel" });
    const text = String((result.body as { text: string }).text);
    expect(text).toMatch(/exited 3/);
    expect(text).toContain("Linux");
  });

  it("answers a Discord command with a deferred response and edits it to the result", async () => {
    const token = `it-${randomBytes(8).toString("hex")}`;
    const body = JSON.stringify({
      id: "1200000000000000001",
      application_id: APP_ID,
      type: 2,
      token,
      data: {
        name: "aether",
        options: [
          {
            type: 1,
            name: "run",
            options: [
              { type: 3, name: "sandbox", value: BOX },
              { type: 3, name: "command", value: "echo discord-ok" },
            ],
          },
        ],
      },
    });
    const res = await send("/api/v1/integrations/discord/interactions", body, {
      "content-type": "application/json",
      ...discord.headers(body),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 5 });
    const edit = await discordApi.waitFor((r) => r.method === "PATCH", 120_000);
    expect(edit.path).toBe(`/api/v10/webhooks/${APP_ID}/${token}/messages/@original`);
    expect(String((edit.body as { content: string }).content)).toMatch(/exited 0[\s\S]*discord-ok/);
  });

  it("starts nothing for a forged request", async () => {
    const before = (await runtime.tasks.list({ limit: 500 })).items.length;
    const body = JSON.stringify({
      action: "created",
      issue: { number: 14 },
      comment: { id: 2, body: "/aether run touch /tmp/pwned" },
      repository: { full_name: REPO, name: "widgets", owner: { login: "acme" } },
    });
    const res = await send("/api/v1/integrations/github/webhook", body, {
      "content-type": "application/json",
      "x-github-event": "issue_comment",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": githubSignature("guessed", body),
    });
    expect(res.status).toBe(401);
    expect((await runtime.tasks.list({ limit: 500 })).items.length).toBe(before);
  });
});
