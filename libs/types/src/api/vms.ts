import { z } from "zod";
import { taskIdSchema, workerIdSchema } from "../domain/ids.js";
import { networkPolicySchema } from "../domain/network-policy.js";
import {
  LABEL_KEY_PATTERN,
  LABEL_VALUE_PATTERN,
  envVarsSchema,
  labelsSchema,
  resourceNameSchema,
} from "../domain/primitives.js";
import { toolsSchema } from "../domain/tool-spec.js";
import { vmBackendSchema, vmSchema, vmStatusSchema } from "../domain/vm.js";
import { limitSchema, cursorSchema, repeatableQueryParamSchema } from "./pagination.js";

/** Bounds on sandbox resources a request may ask for. */
export const VM_LIMITS = {
  vcpus: { min: 1, max: 64 },
  memoryMb: { min: 128, max: 262_144 },
  diskMb: { min: 512, max: 1_048_576 },
  /** Longest lifetime one request may set: 30 days. */
  timeoutSec: { min: 1, max: 2_592_000 },
} as const;

const boundedInt = (field: string, { min, max }: { min: number; max: number }, unit = "") =>
  z
    .number({ error: `${field} must be a number` })
    .int(`${field} must be an integer`)
    .min(min, `${field} must be between ${min} and ${max}${unit}`)
    .max(max, `${field} must be between ${min} and ${max}${unit}`);

/** `vcpus` of a request: 1 to 64. */
export const vcpusSchema = boundedInt("vcpus", VM_LIMITS.vcpus);
/** `memoryMb` of a request: 128 MiB to 256 GiB. */
export const memoryMbSchema = boundedInt("memoryMb", VM_LIMITS.memoryMb, " MiB");
/** `diskMb` of a request: 512 MiB to 1 TiB. */
export const diskMbSchema = boundedInt("diskMb", VM_LIMITS.diskMb, " MiB");
/** `timeoutSec` of a request: seconds until automatic deletion, 1 s to 30 days. */
export const timeoutSecSchema = boundedInt("timeoutSec", VM_LIMITS.timeoutSec, " seconds");

/** A container/VM image reference (`aetherium/base`, `aetherium/base:2025-01`, `node:20`). */
export const imageRefSchema = z
  .string()
  .max(255, "image is at most 255 characters")
  .regex(/^[a-z0-9][a-z0-9._/:@-]*$/, "must be an image reference such as 'aetherium/base:latest'");

/** A worker zone a create may ask for (`worker.zone` of the workers that may take it). */
export const zoneSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "zone must be 1-63 letters, digits, '.', '_' or '-'");

/**
 * Body of `POST /api/v1/vms`. Every field is optional: omitted fields take the server's configured
 * defaults (backend: the best one available; image: the base image; 1 vCPU; 512 MiB). Unknown
 * fields are rejected so typos (`memory_mb`) are not silently ignored. `tools` (mise specs such as
 * `node@20`) are installed for the sandbox's user before it turns `running`; one that fails makes
 * the sandbox `failed`, its error naming the tool.
 * `zone` places the sandbox only on workers of that zone (refused when no active worker has it).
 */
export const createVmBodySchema = z.strictObject({
  name: resourceNameSchema.optional(),
  backend: vmBackendSchema.optional(),
  image: imageRefSchema.optional(),
  vcpus: vcpusSchema.optional(),
  memoryMb: memoryMbSchema.optional(),
  diskMb: diskMbSchema.optional(),
  env: envVarsSchema.optional(),
  labels: labelsSchema.optional(),
  timeoutSec: timeoutSecSchema.optional(),
  /**
   * At `timeoutSec`, pause the sandbox (processes frozen, memory and files kept) instead of
   * deleting it; `POST /vms/{id}/resume` brings it back.
   */
  onTimeout: z
    .enum(["delete", "pause"], { error: 'onTimeout must be "delete" or "pause"' })
    .optional(),
  tools: toolsSchema
    .refine((tools) => new Set(tools).size === tools.length, { message: "tools must not repeat" })
    .optional(),
  network: networkPolicySchema.optional(),
  zone: zoneSchema.optional(),
});

/** A create-sandbox request body. */
export type CreateVmBody = z.infer<typeof createVmBodySchema>;

/**
 * `?wait=true` on sandbox routes: answer once the operation has finished instead of with `202`.
 * Accepts `true/false/1/0/yes/no`; `"false"` really means false.
 */
export const waitQuerySchema = z.object({
  wait: z.stringbool({ error: "wait must be true or false" }).default(false),
});

/** A parsed `?wait=` query. */
export type WaitQuery = z.infer<typeof waitQuerySchema>;

/** `202` answer to `POST /vms`: the sandbox as recorded (status `pending`) and the task creating it. */
export const createVmAcceptedResponseSchema = z.object({ vm: vmSchema, taskId: taskIdSchema });

/** `202` answer to `POST /vms`. */
export type CreateVmAcceptedResponse = z.infer<typeof createVmAcceptedResponseSchema>;

/** `{vm}`: answer of `GET /vms/{id}`, of `POST /vms?wait=true` (`201`, once running) and of waited actions. */
export const vmResponseSchema = z.object({ vm: vmSchema });

/** `{vm}` response. */
export type VmResponse = z.infer<typeof vmResponseSchema>;

/** `202 {taskId}`: answer of `DELETE /vms/{id}`, `POST /vms/{id}/stop` and `POST /vms/{id}/start`. */
export const taskAcceptedResponseSchema = z.object({ taskId: taskIdSchema });

/** `202 {taskId}` response. */
export type TaskAcceptedResponse = z.infer<typeof taskAcceptedResponseSchema>;

/** A label filter `key=value`, parsed into `{key, value}`; key and value follow the label patterns. */
export const labelSelectorSchema = z.string().transform((raw, ctx) => {
  const eq = raw.indexOf("=");
  const key = eq < 0 ? raw : raw.slice(0, eq);
  const value = eq < 0 ? "" : raw.slice(eq + 1);
  if (eq < 0 || !LABEL_KEY_PATTERN.test(key) || !LABEL_VALUE_PATTERN.test(value)) {
    ctx.addIssue({ code: "custom", message: `label filter "${raw}" must be key=value` });
    return z.NEVER;
  }
  return { key, value };
});

/**
 * Query of `GET /api/v1/vms`: `?limit&cursor`, `?status=` (repeatable or comma-separated),
 * `?label=key=value` (repeatable; all must match) and `?workerId=`. Parsed into `status` (a list),
 * `labels` (a map) and `workerId`.
 */
export const listVmsQuerySchema = z
  .object({
    limit: limitSchema,
    cursor: cursorSchema.optional(),
    status: repeatableQueryParamSchema.pipe(z.array(vmStatusSchema)).optional(),
    label: repeatableQueryParamSchema.pipe(z.array(labelSelectorSchema)).optional(),
    workerId: workerIdSchema.optional(),
  })
  .transform(({ label, ...rest }) => ({
    ...rest,
    labels:
      label === undefined
        ? undefined
        : Object.fromEntries(label.map(({ key, value }) => [key, value])),
  }));

/** A parsed sandbox list query. */
export type ListVmsQuery = z.infer<typeof listVmsQuerySchema>;

/** A sandbox list query as a client may send it. */
export type ListVmsQueryInput = z.input<typeof listVmsQuerySchema>;

/** Body of `POST /api/v1/vms/{id}/timeout`: seconds from now until the sandbox is deleted. */
export const setVmTimeoutBodySchema = z.strictObject({ timeoutSec: timeoutSecSchema });

/** A set-timeout request body. */
export type SetVmTimeoutBody = z.infer<typeof setVmTimeoutBodySchema>;

/** Body of `POST /api/v1/vms/{id}/stop`; `force` kills instead of shutting down cleanly. Optional. */
export const stopVmBodySchema = z.strictObject({ force: z.boolean().optional() });

/** A stop request body. */
export type StopVmBody = z.infer<typeof stopVmBodySchema>;
