import { describe, expect, it } from "vitest";
import { sessionClientMessageSchema, submitPromptBodySchema } from "./prompts.js";

describe("prompt bodies and session messages", () => {
  it("takes env as POSIX names and refuses fields it does not know", () => {
    expect(submitPromptBodySchema.parse({ prompt: "p", env: { A_B: "1" } }).env).toEqual({
      A_B: "1",
    });
    expect(submitPromptBodySchema.safeParse({ prompt: "p", env: { "1X": "v" } }).success).toBe(
      false,
    );
    expect(submitPromptBodySchema.safeParse({ prompt: "p", environment: {} }).success).toBe(false);
  });

  it("reads the three client messages and refuses others", () => {
    expect(sessionClientMessageSchema.parse({ type: "prompt", prompt: "hi" })).toMatchObject({
      type: "prompt",
      prompt: "hi",
      priority: 5,
    });
    expect(sessionClientMessageSchema.safeParse({ type: "ping" }).success).toBe(true);
    expect(sessionClientMessageSchema.safeParse({ type: "cancel" }).success).toBe(false);
    expect(sessionClientMessageSchema.safeParse({ type: "shell" }).success).toBe(false);
  });
});
