import { spawn } from "node:child_process";
import { access, constants, mkdir, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";

/** Runs a command; resolves with its stdout, rejects with its last output lines on failure. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; onLine?: (line: string) => void } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    let stdout = "";
    const tail: string[] = [];
    const take = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      options.onLine?.(line);
    };
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    createInterface({ input: child.stderr }).on("line", take);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else {
        tail.push(...stdout.split("\n").slice(-10));
        reject(
          new Error(
            `${command} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail.join("\n")}`,
          ),
        );
      }
    });
  });
}

/** Whether `file` exists. */
export async function exists(file: string): Promise<boolean> {
  return access(file, constants.F_OK).then(
    () => true,
    () => false,
  );
}

/**
 * The concrete package a Debian metapackage (e.g. `linux-image-cloud-amd64`) stands for on this
 * machine's apt sources, with its candidate version: `apt-cache depends` names the one it
 * depends on. A package that is no metapackage is returned as it is.
 */
export async function resolveDebianPackage(
  name: string,
  pattern: RegExp,
): Promise<{ name: string; version: string }> {
  const depends = await runCommand("apt-cache", ["depends", name]);
  const target =
    depends
      .split("\n")
      .map((l) => /^\s+Depends: (\S+)/.exec(l)?.[1])
      .find((n) => n !== undefined && pattern.test(n)) ?? name;
  const policy = await runCommand("apt-cache", ["policy", target]);
  const version = /Candidate: (\S+)/.exec(policy)?.[1];
  if (version === undefined || version === "(none)") {
    throw new Error(`Debian package ${target} is not available from this machine's apt sources`);
  }
  return { name: target, version };
}

/**
 * Downloads one Debian package (`apt-get download`, never installed) and unpacks it with
 * `dpkg-deb -x` into `dir`, unless `dir` exists. Unpacked beside it and renamed into place, so
 * an interrupted fetch never leaves a directory that looks complete.
 */
export async function fetchDebianPackage(
  pkg: { name: string; version: string },
  dir: string,
  onLine?: (line: string) => void,
): Promise<{ dir: string; cached: boolean }> {
  if (await exists(dir)) return { dir, cached: true };
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(path.join(partial, "deb"), { recursive: true });
  const debDir = path.join(partial, "deb");
  await runCommand("apt-get", ["download", `${pkg.name}=${pkg.version}`], {
    cwd: debDir,
    ...(onLine === undefined ? {} : { onLine }),
  });
  const deb = (await readdir(debDir)).find((n) => n.endsWith(".deb"));
  if (deb === undefined) throw new Error(`apt-get download ${pkg.name} produced no .deb`);
  await runCommand("dpkg-deb", ["-x", path.join(debDir, deb), path.join(partial, "root")]);
  await rm(debDir, { recursive: true, force: true });
  await rename(partial, dir);
  return { dir, cached: false };
}
