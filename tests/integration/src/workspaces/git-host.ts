import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A git repository served over HTTP from a network namespace a sandbox can reach. */
export interface GitHost {
  /** `http://<address>:8080/repo.git` */
  readonly url: string;
  /** Requests the server answered, `<status> <path>`, in order. */
  readonly log: () => Promise<string[]>;
  close(): Promise<void>;
}

// Git's "dumb" HTTP protocol is plain files: this serves the bare repository's directory and
// answers 401 unless the request carries the token as Basic credentials, as a forge does.
const SERVER = `
const http = require("http"), fs = require("fs"), path = require("path");
const [root, token, logFile] = process.argv.slice(1);
const want = "Basic " + Buffer.from("x-access-token:" + token).toString("base64");
http.createServer((q, s) => {
  const p = path.join(root, decodeURIComponent(q.url.split("?")[0]));
  const ok = q.headers.authorization === want;
  let status = 401;
  if (ok) status = p.startsWith(root) && fs.existsSync(p) && fs.statSync(p).isFile() ? 200 : 404;
  fs.appendFileSync(logFile, status + " " + q.url + "\\n");
  if (status === 401) { s.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }); return s.end(); }
  if (status === 404) { s.writeHead(404); return s.end(); }
  s.writeHead(200); fs.createReadStream(p).pipe(s);
}).listen(8080, "0.0.0.0");
`;

/**
 * Makes a bare repository with `files` committed on `branch` and serves it from a new network
 * namespace (routed from the host through a veth pair, like any address outside), requiring
 * `token`. Needs root.
 */
export async function startGitHost(
  token: string,
  branch: string,
  files: Record<string, string>,
): Promise<GitHost> {
  const id = randomBytes(3).toString("hex");
  const ns = `aetgit-${id}`;
  const hostVeth = `aetgh${id}`;
  const net = `198.18.${Math.floor(Math.random() * 256)}`;
  const dir = await mkdtemp(path.join(tmpdir(), "aet-git-"));
  const work = path.join(dir, "work");
  const bare = path.join(dir, "srv", "repo.git");
  const logFile = path.join(dir, "requests.log");
  await writeFile(logFile, "");
  const git = (...args: string[]) =>
    run("git", ["-c", "user.name=t", "-c", "user.email=t@example.test", ...args]);
  await git("init", "-q", "-b", branch, work);
  for (const [name, body] of Object.entries(files)) await writeFile(path.join(work, name), body);
  await git("-C", work, "add", ".");
  await git("-C", work, "commit", "-q", "-m", "first");
  await git("clone", "-q", "--bare", work, bare);
  await git("-C", bare, "update-server-info");
  await run("chmod", ["-R", "a+rX", dir]);

  const ip = (...args: string[]) => run("ip", args);
  let server: ChildProcess | undefined;
  try {
    await ip("netns", "add", ns);
    await ip("link", "add", hostVeth, "type", "veth", "peer", "name", `aetgn${id}`, "netns", ns);
    await ip("addr", "add", `${net}.1/30`, "dev", hostVeth);
    await ip("link", "set", hostVeth, "up");
    await ip("-n", ns, "addr", "add", `${net}.2/30`, "dev", `aetgn${id}`);
    await ip("-n", ns, "link", "set", `aetgn${id}`, "up");
    await ip("-n", ns, "link", "set", "lo", "up");
    await ip("-n", ns, "route", "add", "default", "via", `${net}.1`);
    server = spawn(
      "ip",
      ["netns", "exec", ns, process.execPath, "-e", SERVER, path.join(dir, "srv"), token, logFile],
      {
        stdio: "ignore",
      },
    );
  } catch (err) {
    await run("ip", ["netns", "del", ns]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `http://${net}.2:8080/repo.git`,
    log: async () => (await readFile(logFile, "utf8")).split("\n").filter(Boolean),
    async close() {
      server?.kill("SIGKILL");
      // Deleting the namespace deletes its end of the veth pair, and with it the host's end.
      await run("ip", ["netns", "del", ns]).catch(() => undefined);
      await run("ip", ["link", "del", hostVeth]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
