/**
 * Test fixtures on the machine's real services. No mocks: every fixture hands out a real,
 * isolated resource and takes it away again.
 * @module
 */
export {
  createTestDatabase,
  listTestDatabases,
  TEST_DB_PREFIX,
  TEST_PG_ADMIN_URL,
  type TestDatabase,
} from "./postgres.js";
export { createTestRedis, deleteByPrefix, TEST_REDIS_URL, type TestRedis } from "./redis.js";
export { useTestDatabase, useTestRedis } from "./fixtures.js";
export { startPrivateRedis, type PrivateRedis } from "./private-redis.js";
export {
  startRecordingServer,
  type FakeAnswer,
  type FakeRoute,
  type RecordedRequest,
  type RecordingServer,
} from "./integrations/recording-server.js";
export {
  githubSignature,
  startFakeGithubServer,
  type FakeGithubServer,
} from "./integrations/fake-github-server.js";
export {
  slackHeaders,
  startFakeSlackServer,
  type FakeSlackServer,
} from "./integrations/fake-slack-server.js";
export {
  createDiscordSigner,
  startFakeDiscordServer,
  type DiscordSigner,
  type FakeDiscordServer,
} from "./integrations/fake-discord-server.js";
export {
  startFakeKubernetesApiServer,
  type FakeKubernetesApiServer,
  type FakeObject,
  type FakeObjectMeta,
  type FakePodChange,
  type FakeRequestRecord,
} from "./fake-kubernetes-api-server.js";
export { TEST_ENCRYPTION_KEY } from "./encryption-key.js";
export {
  FAKE_TOOL_FAILURE,
  fakeMisePluginScript,
  OFFLINE_MISE_ENV,
  type FakeMisePlugin,
  type FakeMisePluginBehaviour,
} from "./mise/fake-mise-plugin.js";
export { buildFakeMisePluginImage } from "./mise/plugin-image.js";
