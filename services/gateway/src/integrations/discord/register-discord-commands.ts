import { BadRequestError, UnavailableError, type Config } from "@aetherium/common";

// Option types of Discord's application commands.
const SUB_COMMAND = 1;
const STRING = 3;

/** The `/aether` slash command as Discord's API takes it (`run`, `prompt`, `ls`). */
export const AETHER_COMMAND = {
  name: "aether",
  description: "Run commands in Aetherium sandboxes and prompt workspaces' agents",
  type: 1,
  options: [
    {
      type: SUB_COMMAND,
      name: "run",
      description: "Run a command in a sandbox",
      options: [
        { type: STRING, name: "sandbox", description: "Sandbox name or id", required: true },
        { type: STRING, name: "command", description: "Shell command", required: true },
      ],
    },
    {
      type: SUB_COMMAND,
      name: "prompt",
      description: "Send a prompt to a workspace's agent",
      options: [
        { type: STRING, name: "workspace", description: "Workspace name or id", required: true },
        { type: STRING, name: "text", description: "The prompt", required: true },
      ],
    },
    { type: SUB_COMMAND, name: "ls", description: "List sandboxes" },
  ],
} as const;

/**
 * Registers (overwrites) the application's global slash commands with {@link AETHER_COMMAND}
 * through Discord's API (`PUT /applications/{id}/commands`), with the bot token. Returns the
 * names Discord now has.
 */
export async function registerDiscordCommands(config: Config): Promise<string[]> {
  const { applicationId, botToken, apiBaseUrl } = config.integrations.discord;
  if (!applicationId || !botToken) {
    throw new BadRequestError(
      "set AETHERIUM_DISCORD_APPLICATION_ID and AETHERIUM_DISCORD_BOT_TOKEN to register commands",
    );
  }
  const url = `${apiBaseUrl.replace(/\/+$/, "")}/applications/${applicationId}/commands`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bot ${botToken}` },
      body: JSON.stringify([AETHER_COMMAND]),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new UnavailableError(`Discord could not be reached at ${apiBaseUrl}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok) {
    throw new UnavailableError(`Discord refused the commands: ${res.status} ${text.slice(0, 300)}`);
  }
  const made = JSON.parse(text) as { name: string }[];
  return made.map((c) => c.name);
}
