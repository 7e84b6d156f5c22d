/**
 * The `aether` command tree (commander): flags and help text here, the work in `commands/`.
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { cpCommand } from "./commands/cp.js";
import { execCommand, shellCommand } from "./commands/exec.js";
import { healthCommand } from "./commands/health.js";
import { envCreate, envGet, envList, envRemove, type EnvCreateFlags } from "./commands/env.js";
import { keysCreate, keysList, keysRevoke } from "./commands/keys.js";
import { promptCommand, type PromptFlags } from "./commands/prompt.js";
import { secretList, secretRemove, secretSet, type SecretSetFlags } from "./commands/secret.js";
import { wsCreate, wsGet, wsList, wsRemove, type WsCreateFlags } from "./commands/ws.js";
import { taskCancel, taskGet, taskList } from "./commands/task.js";
import { vmCreate, vmGet, vmList, vmMetrics, vmRemove, vmStopStart } from "./commands/vm.js";
import { workerGet, workerList, workerSetStatus } from "./commands/worker.js";
import { Context, DEFAULT_URL, type GlobalOptions } from "./context.js";
import { describeError, exitCodeFor, jsonError, type ErrorContext } from "./format/errors.js";
import type { CliIo } from "./io.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * Runs one `aether` command line (`argv` without the node and script paths) and resolves with the
 * exit code: the command's own for `exec`/`shell`, 0 on success, 1 on failure, 2 on a usage error.
 * Errors are printed as one line on `io.stderr`, never as a stack trace; under `--json`, as one
 * JSON document `{"error": {"code", "message", "details"?}, "requestId"?}` on `io.stderr`, with
 * the same exit codes.
 */
export async function runAether(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  let active: { ctx: Context; command: string } | undefined;
  // Known before commander parses anything, so a usage error in `--json` mode is JSON too. Words
  // after `--` belong to the sandbox's command, not to aether.
  const dashDash = argv.indexOf("--");
  const jsonMode = (dashDash < 0 ? argv : argv.slice(0, dashDash)).includes("--json");
  let usageMessage: string | undefined;

  const program = new Command("aether")
    .description(
      "Drive an Aetherium platform: sandboxes, commands, files, tasks, workers, environments, workspaces, secrets, keys.",
    )
    .option("--json", "machine-readable output: one JSON document on stdout")
    .option("--url <url>", `gateway address (env AETHERIUM_URL, default ${DEFAULT_URL})`)
    .option(
      "--api-key <key>",
      "API key (env AETHERIUM_API_KEY, else $AETHERIUM_HOME/admin.key or ./.aetherium/admin.key)",
    )
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => {
        const text = s.startsWith("error:") ? s.slice(7).trim() : s.trim();
        if (jsonMode) usageMessage = text;
        else write(s.startsWith("error:") ? `aether: ${s.slice(7)}` : s);
      },
    });

  /** Wraps a command body: builds its context and keeps its exit code. */
  const run =
    <A extends unknown[]>(name: string, body: (ctx: Context, ...args: A) => Promise<number>) =>
    async (...args: A) => {
      const cmd = args[args.length - 1] as Command;
      const ctx = new Context(io, cmd.optsWithGlobals<GlobalOptions>());
      active = { ctx, command: name };
      exitCode = await body(ctx, ...args);
    };

  const vm = program.command("vm").description("sandboxes");
  vm.command("create")
    .description("create a sandbox and wait until it runs")
    .option("--name <name>", "name (default: generated)")
    .option("--image <image>", "image (default: the base image)")
    .option(
      "--backend <backend>",
      "a backend the active workers offer (default: the platform's choice among them)",
    )
    .option("--zone <zone>", "only on workers of this zone")
    .option("--cpus <n>", "vCPUs")
    .option("--memory <size>", "memory, e.g. 512m or 2g (MiB by default)")
    .option("--disk <size>", "disk, e.g. 4g")
    .option("--env <K=V>", "environment variable (repeatable)", collect)
    .option("--label <K=V>", "label (repeatable)", collect)
    .option("--timeout <duration>", "delete automatically after, e.g. 30m or 2h")
    .option(
      "--tool <spec>",
      "tool to install with mise before it runs, e.g. node@20 or npm:prettier (repeatable)",
      collect,
    )
    .option("--egress <policy>", "network: allow-all (default) or deny-all")
    .option(
      "--allow <host>",
      "only this destination: example.com, *.example.com, an IP or a CIDR (repeatable)",
      collect,
    )
    .option("--no-wait", "answer at once instead of waiting until it runs")
    .action(run("vm create", (ctx, flags: Parameters<typeof vmCreate>[1]) => vmCreate(ctx, flags)));
  vm.command("ls")
    .alias("list")
    .description("list sandboxes")
    .option("--status <status>", "only these statuses (repeatable or comma-separated)", collect)
    .option("--label <K=V>", "only sandboxes with this label (repeatable)", collect)
    .option("--all", "include deleted sandboxes")
    .action(run("vm ls", (ctx, flags: Parameters<typeof vmList>[1]) => vmList(ctx, flags)));
  vm.command("get <vm>")
    .description("show a sandbox (by id or name)")
    .action(run("vm get", (ctx, ref: string) => vmGet(ctx, ref)));
  vm.command("metrics <vm>")
    .description("measure a running sandbox now: CPU, memory and disk use")
    .action(run("vm metrics", (ctx, ref: string) => vmMetrics(ctx, ref)));
  vm.command("rm <vm...>")
    .alias("delete")
    .description("delete sandboxes (by id or name)")
    .option("--no-wait", "answer at once instead of waiting until they are gone")
    .action(
      run("vm rm", (ctx, refs: string[], flags: { wait?: boolean }) => vmRemove(ctx, refs, flags)),
    );
  vm.command("stop <vm>")
    .description("stop a sandbox (its disk is kept)")
    .option("--force", "kill instead of shutting down cleanly")
    .option("--no-wait", "answer at once")
    .action(
      run("vm stop", (ctx, ref: string, flags: { wait?: boolean; force?: boolean }) =>
        vmStopStart(ctx, "stop", ref, flags),
      ),
    );
  vm.command("start <vm>")
    .description("start a stopped sandbox")
    .option("--no-wait", "answer at once")
    .action(
      run("vm start", (ctx, ref: string, flags: { wait?: boolean }) =>
        vmStopStart(ctx, "start", ref, flags),
      ),
    );
  vm.command("pause <vm>")
    .description("pause a sandbox (frozen in place: processes and memory kept, no CPU)")
    .option("--no-wait", "answer at once")
    .action(
      run("vm pause", (ctx, ref: string, flags: { wait?: boolean }) =>
        vmStopStart(ctx, "pause", ref, flags),
      ),
    );
  vm.command("resume <vm>")
    .description("resume a paused sandbox")
    .option("--no-wait", "answer at once")
    .action(
      run("vm resume", (ctx, ref: string, flags: { wait?: boolean }) =>
        vmStopStart(ctx, "resume", ref, flags),
      ),
    );

  program
    .command("exec <vm> [command...]")
    .description(
      "run a command in a sandbox, streaming its output; exits with its exit code\n" +
        "(one word runs through /bin/sh -c, several run directly: aether exec demo -- ls -la /)",
    )
    .option("--env <K=V>", "environment variable (repeatable)", collect)
    .option("--cwd <dir>", "working directory (absolute)")
    .option("--user <user>", "user name or uid")
    .option("--timeout <duration>", "kill the command after, e.g. 30s or 10m")
    .action(
      run("exec", (ctx, ref: string, words: string[], flags: Parameters<typeof execCommand>[3]) =>
        execCommand(ctx, ref, words, flags),
      ),
    );
  program
    .command("shell <vm>")
    .description("open an interactive terminal in a sandbox")
    .action(run("shell", (ctx, ref: string) => shellCommand(ctx, ref)));
  program
    .command("cp <from> <to>")
    .description("copy a file: aether cp <vm>:/path ./local  or  aether cp ./local <vm>:/path")
    .action(run("cp", (ctx, from: string, to: string) => cpCommand(ctx, from, to)));

  program
    .command("prompt <workspace> [text...]")
    .description(
      "send a prompt to a workspace's agent and stream its answer; exits with the agent's exit code\n" +
        '(aether prompt <workspace> "fix the failing test", by id or name; with no text, the prompt is read from stdin)',
    )
    .option("--env <K=V>", "environment variable for this run (repeatable)", collect)
    .option("--system <text>", "system prompt for this run (instead of the workspace's)")
    .option("--cwd <dir>", "working directory (absolute; default the workspace's)")
    .option("--priority <n>", "queue priority 0-10 (default 5; higher runs first)")
    .action(
      run("prompt", (ctx, ref: string, words: string[], flags: PromptFlags) =>
        promptCommand(ctx, ref, words, flags),
      ),
    );

  const task = program.command("task").description("durable tasks (create, stop, delete…)");
  task
    .command("ls")
    .alias("list")
    .description("list tasks, newest first")
    .option("--status <status>", "only these statuses (repeatable or comma-separated)", collect)
    .option("--type <type>", "only these types, e.g. vm:create (repeatable)", collect)
    .option("--vm <vm>", "only tasks of this sandbox")
    .option("--limit <n>", "how many (default 50)")
    .action(run("task ls", (ctx, flags: Parameters<typeof taskList>[1]) => taskList(ctx, flags)));
  task
    .command("get <id>")
    .description("show a task")
    .action(run("task get", (ctx, id: string) => taskGet(ctx, id)));
  task
    .command("cancel <id>")
    .description("cancel a task that has not finished")
    .action(run("task cancel", (ctx, id: string) => taskCancel(ctx, id)));

  const worker = program.command("worker").description("worker hosts");
  worker
    .command("ls")
    .alias("list")
    .description("list workers")
    .action(run("worker ls", (ctx) => workerList(ctx)));
  worker
    .command("get <id>")
    .description("show a worker")
    .action(run("worker get", (ctx, id: string) => workerGet(ctx, id)));
  worker
    .command("drain <id>")
    .description("stop placing new sandboxes on a worker (admin)")
    .action(run("worker drain", (ctx, id: string) => workerSetStatus(ctx, "drain", id)));
  worker
    .command("activate <id>")
    .description("let a draining worker take sandboxes again (admin)")
    .action(run("worker activate", (ctx, id: string) => workerSetStatus(ctx, "activate", id)));

  const env = program.command("env").description("environments: templates for workspaces");
  env
    .command("create <name>")
    .description(
      "create an environment (flags on top of --file, a JSON or YAML body of POST /environments)",
    )
    .option(
      "--file <file>",
      "the environment as JSON, or YAML for .yaml/.yml (every field of POST /environments)",
    )
    .option("--agent <type>", "claude-code, amp or custom")
    .option("--command <command>", "the agent's command (required for custom)")
    .option("--system-prompt <text>", "the agent's system prompt")
    .option("--model <model>", "the agent's model")
    .option("--repo <url>", "repository to clone")
    .option("--branch <branch>", "branch to clone (default: the repository's)")
    .option("--dir <path>", "where to clone it, also the agent's working directory")
    .option("--token-secret <NAME>", "secret holding an HTTPS token for the clone")
    .option("--tool <spec>", "a tool to install with mise, e.g. node@20 (repeatable)", collect)
    .option("--env <K=V>", "plain environment variable (repeatable)", collect)
    .option("--secret <NAME>", "a secret the agent gets (repeatable)", collect)
    .option("--setup <script>", "a setup script, run in order (repeatable)", collect)
    .option("--image <image>", "sandbox image")
    .option("--backend <backend>", "docker, firecracker or qemu")
    .option("--vcpus <n>", "vCPUs")
    .option("--memory <size>", "memory, e.g. 2g")
    .option("--disk <size>", "disk, e.g. 10g")
    .option("--idle-timeout <duration>", "stop the sandbox after this long idle, e.g. 30m")
    .action(
      run("env create", (ctx, name: string, flags: EnvCreateFlags) => envCreate(ctx, name, flags)),
    );
  env
    .command("ls")
    .alias("list")
    .description("list environments")
    .action(run("env ls", (ctx) => envList(ctx)));
  env
    .command("get <env>")
    .description("show an environment (by id or name)")
    .action(run("env get", (ctx, ref: string) => envGet(ctx, ref)));
  env
    .command("rm <env...>")
    .alias("delete")
    .description("delete environments (workspaces made from them keep working)")
    .action(run("env rm", (ctx, refs: string[]) => envRemove(ctx, refs)));

  const ws = program
    .command("ws")
    .alias("workspace")
    .description("workspaces: prepared sandboxes for coding agents");
  ws.command("create <name>")
    .description(
      "create a workspace from an environment and show its preparation steps as they run",
    )
    .requiredOption("--env <environment>", "the environment (id or name) it is made from")
    .option("--description <text>", "what it is for")
    .option("--no-wait", "answer at once, while it is still being prepared")
    .option("--timeout <duration>", "how long to wait for it to be ready (default 15m)")
    .option(
      "--secret <NAME>",
      "give the workspace a secret (repeatable); values from a hidden prompt, or stdin one per line",
      collect,
    )
    .action(
      run("ws create", (ctx, name: string, flags: WsCreateFlags) => wsCreate(ctx, name, flags)),
    );
  ws.command("ls")
    .alias("list")
    .description("list workspaces")
    .action(run("ws ls", (ctx) => wsList(ctx)));
  ws.command("get <ws>")
    .description("show a workspace (by id or name) with its preparation steps")
    .action(run("ws get", (ctx, ref: string) => wsGet(ctx, ref)));
  ws.command("rm <ws...>")
    .alias("delete")
    .description("delete workspaces: their sandbox, files, secrets and history")
    .option("--no-wait", "answer at once, while its sandbox is still being removed")
    .action(
      run("ws rm", (ctx, refs: string[], flags: { wait?: boolean }) => wsRemove(ctx, refs, flags)),
    );
  const wsSecret = ws
    .command("secret")
    .description("a workspace's own secrets (values are write-only)");
  wsSecret
    .command("set <ws> <NAME>")
    .description(
      "add or replace a workspace's secret; the value comes from stdin (or a hidden prompt on a terminal) unless --value",
    )
    .option("--value <value>", "the value (visible in shell history: prefer stdin)")
    .option("--description <text>", "what it is for")
    .action(
      run("ws secret set", (ctx, ref: string, name: string, flags: SecretSetFlags) =>
        secretSet(ctx, name, { ...flags, workspace: ref }),
      ),
    );
  wsSecret
    .command("ls <ws>")
    .alias("list")
    .description("list a workspace's secrets (names, never values)")
    .action(run("ws secret ls", (ctx, ref: string) => secretList(ctx, { workspace: ref })));
  wsSecret
    .command("rm <ws> <NAME...>")
    .alias("delete")
    .description("delete a workspace's secrets")
    .action(
      run("ws secret rm", (ctx, ref: string, names: string[]) =>
        secretRemove(ctx, names, { workspace: ref }),
      ),
    );

  const secret = program
    .command("secret")
    .description("secrets: global, or a workspace's own with --workspace (values are write-only)");
  secret
    .command("set <NAME>")
    .description(
      "add or replace a secret; the value comes from stdin (or a hidden prompt on a terminal) unless --value",
    )
    .option("--value <value>", "the value (visible in shell history: prefer stdin)")
    .option("--description <text>", "what it is for")
    .option("--workspace <ws>", "a workspace's own secret (id or name) instead of a global one")
    .action(
      run("secret set", (ctx, name: string, flags: SecretSetFlags) => secretSet(ctx, name, flags)),
    );
  secret
    .command("ls")
    .alias("list")
    .description("list secrets (names, never values)")
    .option("--workspace <ws>", "the workspace's own secrets (id or name)")
    .action(run("secret ls", (ctx, flags: { workspace?: string }) => secretList(ctx, flags)));
  secret
    .command("rm <NAME...>")
    .alias("delete")
    .description("delete secrets")
    .option("--workspace <ws>", "the workspace's own secrets (id or name)")
    .action(
      run("secret rm", (ctx, names: string[], flags: { workspace?: string }) =>
        secretRemove(ctx, names, flags),
      ),
    );

  const keys = program.command("keys").description("API keys (admin)");
  keys
    .command("create <name>")
    .description("create an API key and print its secret (shown once)")
    .addOption(
      new Option("--scope <scopes>", "comma-separated: read, write, admin").default(
        undefined,
        "read,write",
      ),
    )
    .option("--e2b", "shape the secret e2b_<hex>, for the e2b SDKs' E2B_API_KEY")
    .action(
      run("keys create", (ctx, name: string, flags: { scope?: string; e2b?: boolean }) =>
        keysCreate(ctx, name, flags),
      ),
    );
  keys
    .command("ls")
    .alias("list")
    .description("list API keys")
    .action(run("keys ls", (ctx) => keysList(ctx)));
  keys
    .command("revoke <id>")
    .description("revoke an API key")
    .action(run("keys revoke", (ctx, id: string) => keysRevoke(ctx, id)));

  program
    .command("health")
    .description("platform health; exits 1 when degraded")
    .action(run("health", (ctx) => healthCommand(ctx)));

  const printJson = (doc: unknown) => io.stderr.write(`${JSON.stringify(doc)}\n`);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version asked for are successes; anything else (a missing subcommand included) is a
      // usage error, already printed by commander (kept for here in `--json` mode).
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
      if (err.exitCode === 0) return 0;
      if (jsonMode) {
        printJson({
          error: {
            code: "usage",
            message: `${usageMessage ?? err.message.replace(/^error: /, "")} (see \`aether --help\`)`,
          },
        });
      }
      return 2;
    }
    const ctx = active?.ctx ?? new Context(io, program.opts<GlobalOptions>());
    const errorContext: ErrorContext = {
      url: ctx.url,
      keySource: ctx.keySource,
      keyFile: ctx.keyFile,
      ...(active ? { command: active.command } : {}),
    };
    if (jsonMode) printJson(jsonError(err, errorContext));
    else io.stderr.write(`aether: ${describeError(err, errorContext)}\n`);
    return exitCodeFor(err);
  }
}
