#!/bin/sh
# A stand-in for an AI coding agent, run by the custom adapter: it reads the prompt from stdin,
# shows what it was given (user, directory, prompt, MCP config, a secret from its environment),
# streams a few steps over time and exits with the code the prompt's env chooses.
prompt=$(cat)
echo "whoami: $(id -un)"
echo "cwd: $(pwd)"
echo "prompt(stdin): $prompt"
echo "prompt(env): $AETHER_PROMPT"
if [ -f "$AETHER_MCP_CONFIG" ]; then echo "mcp: $(cat "$AETHER_MCP_CONFIG")"; fi
echo "secret: $API_TOKEN"
echo "secret-b64: $(printf %s "$API_TOKEN" | base64)"
i=0
while [ "$i" -lt "${STEPS:-2}" ]; do
  echo "step $i"
  sleep "${STEP_SEC:-1}"
  i=$((i + 1))
done
echo "done with $API_TOKEN" >&2
exit "${EXIT_CODE:-0}"
