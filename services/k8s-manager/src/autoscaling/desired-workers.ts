/** What the autoscaler knows when it decides how many worker pods to run. */
export interface ScalingInput {
  /** Jobs waiting in the shared create queue (sandboxes nobody has started yet). */
  readonly queueDepth: number;
  /** Sandboxes running now, across all workers. */
  readonly runningSandboxes: number;
  /** How many sandboxes one worker pod may hold. */
  readonly sandboxesPerWorker: number;
  /** Workers running now. */
  readonly currentWorkers: number;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** Fraction of capacity to keep free for bursts (0.2 = aim for 80% use). */
  readonly headroom?: number;
}

/** The decision and why, so it can be logged and shown in the dashboard. */
export interface ScalingDecision {
  readonly desired: number;
  readonly reason: string;
}

/**
 * Decides how many workers to run from queue depth and load. Scales up at once (a queued sandbox
 * is a waiting user) but down by at most one worker per decision, so a short lull does not tear
 * down capacity that the next burst needs.
 */
export function desiredWorkers(input: ScalingInput): ScalingDecision {
  const {
    queueDepth,
    runningSandboxes,
    sandboxesPerWorker,
    currentWorkers,
    minWorkers,
    maxWorkers,
  } = input;
  if (sandboxesPerWorker <= 0) throw new RangeError("sandboxesPerWorker must be positive");
  if (minWorkers > maxWorkers) throw new RangeError("minWorkers must not exceed maxWorkers");
  const headroom = input.headroom ?? 0.2;
  const demand = Math.max(0, queueDepth) + Math.max(0, runningSandboxes);
  const usable = sandboxesPerWorker * (1 - Math.min(Math.max(headroom, 0), 0.9));
  const needed = Math.ceil(demand / usable);
  const clamp = (n: number) => Math.min(maxWorkers, Math.max(minWorkers, n));

  if (needed > currentWorkers) {
    const desired = clamp(needed);
    return {
      desired,
      reason:
        desired < needed
          ? `demand ${demand} needs ${needed} workers; capped at max ${maxWorkers}`
          : `demand ${demand} needs ${needed} workers`,
    };
  }
  if (needed < currentWorkers) {
    const desired = clamp(currentWorkers - 1);
    return { desired, reason: `demand ${demand} needs ${needed}; stepping down by one` };
  }
  return {
    desired: clamp(currentWorkers),
    reason: `demand ${demand} fits ${currentWorkers} workers`,
  };
}
