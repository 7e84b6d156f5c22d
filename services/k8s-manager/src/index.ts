/**
 * Kubernetes integration: worker pods, autoscaling from queue depth, node health.
 * @module
 */
export {
  desiredWorkers,
  type ScalingDecision,
  type ScalingInput,
} from "./autoscaling/desired-workers.js";
