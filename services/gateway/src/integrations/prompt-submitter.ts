import type { PromptService } from "@aetherium/core";
import type { PromptSubmitter } from "./contract.js";

/** How long a prompt started from a provider may run before its answer says it is still running. */
const PROMPT_RESULT_WAIT_MS = 60 * 60_000;

/**
 * The integrations' `prompt <workspace> <text>` over the workspaces' {@link PromptService}: the
 * prompt joins the workspace's queue like any other (source `integration`), and `done` settles
 * with its stored (bounded, redacted) output once it has finished.
 */
export function promptSubmitterFor(prompts: PromptService): PromptSubmitter {
  return {
    async submit(tenant, workspaceRef, text) {
      const { prompt } = await prompts.submit(
        tenant,
        workspaceRef,
        { prompt: text, priority: 5 },
        "integration",
      );
      const done = prompts
        .waitFor(tenant, workspaceRef, prompt.id, { timeoutMs: PROMPT_RESULT_WAIT_MS })
        .then((p) => {
          if (p.status === "pending" || p.status === "running") {
            throw new Error(`prompt ${p.id} is still ${p.status} after an hour`);
          }
          const output = [p.stdout, p.stderr, p.error ?? ""].filter(Boolean).join("\n");
          return { output, exitCode: p.exitCode ?? (p.status === "completed" ? 0 : 1) };
        });
      return { promptId: prompt.id, done };
    },
  };
}
