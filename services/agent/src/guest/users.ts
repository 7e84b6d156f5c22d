import { readFile } from "node:fs/promises";
import { AGENT_ERROR_CODES, type AgentUser } from "@aetherium/types";
import { AgentRpcError } from "./rpc-error.js";

/** A user to run a process as, with what `/etc/passwd` says about them. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Account name; absent for a bare uid without a passwd entry. */
  name: string | undefined;
  /** Home directory; absent for a bare uid without a passwd entry. */
  home: string | undefined;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [name, , uid, gid, , home] = line.split(":");
    if (name === undefined || uid === undefined || gid === undefined) continue;
    const u = Number(uid);
    const g = Number(gid);
    if (!Number.isInteger(u) || !Number.isInteger(g)) continue;
    entries.push({ name, uid: u, gid: g, home: home ?? "/" });
  }
  return entries;
}

/**
 * Resolves a user name or uid against the sandbox's `/etc/passwd` (read on every call: images add
 * users at run time with `useradd`). A uid without an entry is allowed, as `docker exec -u` allows
 * it, and gets its own uid as gid (not root's group 0).
 */
export async function resolveUser(
  user: AgentUser,
  passwdPath = "/etc/passwd",
): Promise<ResolvedUser> {
  let text = "";
  try {
    text = await readFile(passwdPath, "utf8");
  } catch {
    // No passwd file (a scratch image): only numeric uids can work.
  }
  const entries = parsePasswd(text);
  const asNumber = typeof user === "number" ? user : /^\d+$/.test(user) ? Number(user) : undefined;
  if (asNumber !== undefined) {
    const entry = entries.find((e) => e.uid === asNumber);
    return entry === undefined
      ? { uid: asNumber, gid: asNumber, name: undefined, home: undefined }
      : { uid: entry.uid, gid: entry.gid, name: entry.name, home: entry.home };
  }
  const entry = entries.find((e) => e.name === user);
  if (entry === undefined) {
    throw new AgentRpcError(AGENT_ERROR_CODES.userNotFound, `no user named ${user} in the sandbox`);
  }
  return { uid: entry.uid, gid: entry.gid, name: entry.name, home: entry.home };
}
