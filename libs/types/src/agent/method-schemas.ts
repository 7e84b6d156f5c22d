import type { z } from "zod";
import { agentAuthParamsSchema, agentAuthResultSchema } from "./auth.js";
import { agentEmptySchema } from "./common.js";
import {
  execAckNotificationSchema,
  execAttachParamsSchema,
  execAttachResultSchema,
  execExitNotificationSchema,
  execListResultSchema,
  execOutputNotificationSchema,
  execProcessParamsSchema,
  execResizeParamsSchema,
  execSignalParamsSchema,
  execStartParamsSchema,
  execStartResultSchema,
  execStdinParamsSchema,
  execWaitParamsSchema,
  execWaitResultSchema,
} from "./exec.js";
import {
  fsListResultSchema,
  fsMkdirParamsSchema,
  fsMkdirResultSchema,
  fsPathParamsSchema,
  fsReadParamsSchema,
  fsReadResultSchema,
  fsRemoveParamsSchema,
  fsRemoveResultSchema,
  fsStatResultSchema,
  fsWriteParamsSchema,
  fsWriteResultSchema,
} from "./fs.js";
import { agentHealthResultSchema, agentInfoParamsSchema, agentInfoResultSchema } from "./info.js";
import { secretsSetParamsSchema, secretsSetResultSchema } from "./secrets.js";

/**
 * The params and result schema of every request method, keyed by method name. The agent parses
 * incoming params with `params`; a client may parse results with `result`.
 */
export const AGENT_METHOD_SCHEMAS = {
  "agent.info": { params: agentInfoParamsSchema, result: agentInfoResultSchema },
  "agent.health": { params: agentInfoParamsSchema, result: agentHealthResultSchema },
  "agent.auth": {
    params: agentAuthParamsSchema,
    result: agentAuthResultSchema,
  },
  "exec.start": { params: execStartParamsSchema, result: execStartResultSchema },
  "exec.stdin": { params: execStdinParamsSchema, result: agentEmptySchema },
  "exec.closeStdin": { params: execProcessParamsSchema, result: agentEmptySchema },
  "exec.signal": { params: execSignalParamsSchema, result: agentEmptySchema },
  "exec.resize": { params: execResizeParamsSchema, result: agentEmptySchema },
  "exec.list": { params: agentEmptySchema, result: execListResultSchema },
  "exec.attach": { params: execAttachParamsSchema, result: execAttachResultSchema },
  "exec.detach": { params: execProcessParamsSchema, result: agentEmptySchema },
  "exec.wait": { params: execWaitParamsSchema, result: execWaitResultSchema },
  "fs.read": { params: fsReadParamsSchema, result: fsReadResultSchema },
  "fs.write": { params: fsWriteParamsSchema, result: fsWriteResultSchema },
  "fs.list": { params: fsPathParamsSchema, result: fsListResultSchema },
  "fs.stat": { params: fsPathParamsSchema, result: fsStatResultSchema },
  "fs.remove": { params: fsRemoveParamsSchema, result: fsRemoveResultSchema },
  "fs.mkdir": { params: fsMkdirParamsSchema, result: fsMkdirResultSchema },
  "secrets.set": { params: secretsSetParamsSchema, result: secretsSetResultSchema },
} as const;

/** The payload schema of every notification, keyed by notification name (both directions). */
export const AGENT_NOTIFICATION_SCHEMAS = {
  "exec.output": execOutputNotificationSchema,
  "exec.exit": execExitNotificationSchema,
  "exec.ack": execAckNotificationSchema,
} as const;

/** A request method that has schemas (every one in `AGENT_METHODS`). */
export type AgentMethodName = keyof typeof AGENT_METHOD_SCHEMAS;

/** The params a client sends for method `M` (input side: optional fields may be left out). */
export type AgentMethodParams<M extends AgentMethodName> = z.input<
  (typeof AGENT_METHOD_SCHEMAS)[M]["params"]
>;

/** The result the agent answers method `M` with. */
export type AgentMethodResult<M extends AgentMethodName> = z.output<
  (typeof AGENT_METHOD_SCHEMAS)[M]["result"]
>;
