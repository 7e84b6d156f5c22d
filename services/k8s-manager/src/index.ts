/**
 * Kubernetes integration. It holds the autoscaling decision (workers wanted from queue depth and
 * load), a pure function; nothing here talks to a cluster.
 * @module
 */
export {
  desiredWorkers,
  type ScalingDecision,
  type ScalingInput,
} from "./autoscaling/desired-workers.js";
