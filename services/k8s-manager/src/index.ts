/**
 * Aetherium on Kubernetes: the manager that scales worker pods from the fleet's queue depth and
 * load (draining through the API before removing a worker), labels nodes that offer /dev/kvm,
 * reports decisions as Events and Prometheus metrics, and leader-elects on a Lease.
 * @module
 */
export {
  desiredWorkers,
  type ScalingDecision,
  type ScalingInput,
} from "./autoscaling/desired-workers.js";
export { loadManagerConfig, type ManagerConfig } from "./config/manager-config.js";
export { KubeApi, kubeStatus, type KubeTarget, type LeaseRecord } from "./kubernetes/kube-api.js";
export { LeaseElector, type LeaseElectorOptions } from "./leader/lease-elector.js";
export { KvmNodeLabeler, nodeHasKvm, type KvmLabelerOptions } from "./nodes/kvm-node-labeler.js";
export { ManagerMetrics } from "./observability/manager-metrics.js";
export {
  DaemonSetPool,
  DeploymentPool,
  DELETION_COST_ANNOTATION,
  DRAIN_ANNOTATION,
  type PoolMember,
  type WorkerPool,
} from "./scaling/worker-pool.js";
export { WorkerScaler, type ScalerAction, type ScalerOptions } from "./scaling/worker-scaler.js";
export { openManager, type Manager, type ManagerDeps } from "./root/manager-root.js";
