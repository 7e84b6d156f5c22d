/**
 * Pulumi program (TypeScript) deploying Aetherium's Helm charts. The release plan is a pure
 * function; the Pulumi resources that apply it arrive with the Kubernetes issue.
 * @module
 */
export { planReleases, type ReleasePlan, type StackConfig } from "./releases/plan-releases.js";
