/**
 * Pulumi program (TypeScript) deploying Aetherium's Helm charts. The release plan is a pure
 * function, testable without a cluster; nothing here calls the Pulumi runtime.
 * @module
 */
export { planReleases, type ReleasePlan, type StackConfig } from "./releases/plan-releases.js";
