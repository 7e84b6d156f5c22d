import type { Environment, PrepStepType } from "@aetherium/types";

/** One planned preparation step, before it is recorded. */
export interface PlannedStep {
  readonly type: PrepStepType;
  /** What people see: `clone`, `tool node@20`, `setup 2`, `mcp`. */
  readonly name: string;
  /** What the step needs to run (the tool spec, the setup step). */
  readonly config: Record<string, unknown>;
}

/**
 * The steps that prepare a workspace, in the order they run: the clone (when there is a
 * repository), each tool, each setup step (numbered from 1), then the agent's MCP config (when
 * there are servers).
 */
export function planSteps(spec: Environment): PlannedStep[] {
  const steps: PlannedStep[] = [];
  if (spec.repo) steps.push({ type: "clone", name: "clone", config: {} });
  for (const tool of spec.tools ?? []) {
    steps.push({ type: "tool", name: `tool ${tool}`, config: { spec: tool } });
  }
  (spec.setup ?? []).forEach((s, i) => {
    steps.push({ type: s.type, name: `setup ${i + 1}`, config: { ...s } });
  });
  if ((spec.mcpServers ?? []).length > 0) steps.push({ type: "mcp", name: "mcp", config: {} });
  return steps;
}
