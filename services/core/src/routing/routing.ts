import { jobCatalog, type JobName, type VmBackend, type Worker } from "@aetherium/types";
import type { QueueName } from "../queue/job-queue.js";

/**
 * Where a sandbox may be placed. Creates wait in a shared queue per backend (and zone, when one
 * is asked for); only workers that run that backend, in that zone, consume it, and only while
 * they are active and have room.
 */
export interface Placement {
  readonly backend: VmBackend;
  readonly zone?: string | undefined;
}

/** The shared queue for creating sandboxes that fit `placement`. */
export function createQueueName(placement: Placement): QueueName {
  return placement.zone
    ? `create.${placement.backend}.${placement.zone}`
    : `create.${placement.backend}`;
}

/** The private queue of one worker: jobs on sandboxes it owns. */
export function workerQueueName(workerId: string): QueueName {
  return `worker.${workerId}`;
}

/** The shared create queues a worker consumes: each backend it runs, with and without its zone. */
export function createQueuesFor(worker: Pick<Worker, "backends" | "zone">): QueueName[] {
  return worker.backends.flatMap((backend) =>
    worker.zone
      ? [createQueueName({ backend }), createQueueName({ backend, zone: worker.zone })]
      : [createQueueName({ backend })],
  );
}

/** Thrown when a job that acts on a sandbox has no owning worker to go to. */
export class UnroutableJobError extends Error {
  override readonly name = "UnroutableJobError";
}

/**
 * Picks the queue of a job from the catalog's routing: `shared` jobs go to the create queue of
 * their placement, `owner` jobs to the queue of the worker that holds the sandbox.
 */
export function queueForJob(
  name: JobName,
  target: { readonly placement?: Placement; readonly ownerWorkerId?: string | null },
): QueueName {
  const routing = jobCatalog[name].routing;
  if (routing === "owner" && target.ownerWorkerId) return workerQueueName(target.ownerWorkerId);
  if (routing === "owner" && !target.placement) {
    throw new UnroutableJobError(`${name} needs the sandbox's worker, but the sandbox has none`);
  }
  if (!target.placement) throw new UnroutableJobError(`${name} needs a placement (backend, zone)`);
  return createQueueName(target.placement);
}
