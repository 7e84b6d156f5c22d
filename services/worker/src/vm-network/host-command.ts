import { execFile } from "node:child_process";

/** What one host command did. */
export interface CommandResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `file args` without a shell, bounded in time. iptables-family commands wait for the
 * xtables lock (`-w`), since dockerd and other workers edit the same tables.
 */
export function runCommand(file: string, args: readonly string[]): Promise<CommandResult> {
  const full = file === "iptables" || file === "ip6tables" ? ["-w", "5", ...args] : [...args];
  return new Promise((resolve) => {
    execFile(file, full, { timeout: 15_000 }, (err, out, stderr) =>
      resolve({
        ok: err === null,
        stdout: String(out),
        stderr: String(stderr).trim() || String(err?.message ?? ""),
      }),
    );
  });
}

/** {@link runCommand}, throwing with the command and its error when it fails. */
export async function mustRun(file: string, args: readonly string[]): Promise<string> {
  const r = await runCommand(file, args);
  if (!r.ok) throw new Error(`${file} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}
