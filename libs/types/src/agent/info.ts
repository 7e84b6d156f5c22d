import { z } from "zod";

/** Params of `agent.info` and `agent.health`: none. */
export const agentInfoParamsSchema = z.object({});

/** Result of `agent.info`: what is running, since when. */
export const agentInfoResultSchema = z.object({
  /** Version of the agent program. */
  version: z.string(),
  /** Wire protocol version (`AGENT_PROTOCOL_VERSION`). */
  protocolVersion: z.number().int(),
  /** The agent's process id inside the sandbox (1 when it is the container's init). */
  pid: z.number().int(),
  /** Milliseconds since the agent started. */
  uptimeMs: z.number(),
  /** When the agent started (ISO 8601). */
  startedAt: z.string(),
  /** Node.js version running the agent. */
  nodeVersion: z.string(),
  /** The sandbox's host name. */
  hostname: z.string(),
  /** The uid the agent runs as; only root can start processes as other users. */
  uid: z.number().int(),
  /** Whether orphaned processes are reaped by an init (tini) above the agent. */
  reaper: z.enum(["init", "none"]),
  /**
   * How the agent program was started: from the V8 startup snapshot built with the image
   * (`snapshot`, the fast path) or by loading its script (`script`). Absent from older agents.
   */
  startup: z.enum(["snapshot", "script"]).optional(),
});

/** Result of `agent.info`. */
export type AgentInfoResult = z.infer<typeof agentInfoResultSchema>;

/** Result of `agent.health`. */
export const agentHealthResultSchema = z.object({
  /** Always `"ok"`: an agent that answers is healthy. */
  status: z.literal("ok"),
  /** Processes still running. */
  runningProcesses: z.number().int(),
  /** Connected clients, including the asking one. */
  connections: z.number().int(),
  /** Resident memory of the agent in bytes. */
  rssBytes: z.number().int(),
});

/** Result of `agent.health`. */
export type AgentHealthResult = z.infer<typeof agentHealthResultSchema>;
