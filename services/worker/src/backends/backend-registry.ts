import type { Config, Logger } from "@aetherium/common";
import type { Repositories } from "@aetherium/core";
import type { VmBackend } from "@aetherium/types";
import { detectBackends, type BackendProbe } from "./detect-backends.js";
import type { SandboxBackend } from "./sandbox-backend.js";

/** What a backend's opener is given: the host probe, the config and the image to run. */
export interface BackendContext {
  readonly probe: BackendProbe;
  readonly config: Config;
  readonly image: string;
  readonly logger: Logger;
  /** The control plane's repositories (microVM backends lease their addresses there). */
  readonly repos?: Repositories;
  /** The worker opening it. */
  readonly workerId?: string;
}

/** A backend ready to take sandboxes, or the reason it cannot (and what to do about it). */
export type OpenedBackend =
  | { readonly ready: true; readonly backend: SandboxBackend; readonly detail: string }
  | { readonly ready: false; readonly detail: string; readonly close?: () => Promise<void> };

/** Opens one kind of sandbox backend on this host. */
export type BackendOpener = (context: BackendContext) => Promise<OpenedBackend>;

/** One line per backend kind this worker knows: ready, or what is missing and how to fix it. */
export interface BackendStatus {
  readonly backend: VmBackend;
  readonly ready: boolean;
  readonly detail: string;
}

/**
 * Probes the host and opens every backend whose opener is registered and whose probe passed, in
 * the order of the probes. A kind without an opener is reported as not implemented; a kind the
 * host lacks, with what it lacks.
 */
export async function openBackends(
  openers: Partial<Record<VmBackend, BackendOpener>>,
  context: Omit<BackendContext, "probe">,
  probes?: readonly BackendProbe[],
): Promise<{
  opened: SandboxBackend[];
  status: BackendStatus[];
  closers: (() => Promise<void>)[];
}> {
  const opened: SandboxBackend[] = [];
  const status: BackendStatus[] = [];
  const closers: (() => Promise<void>)[] = [];
  const detected =
    probes ??
    (await detectBackends({ firecrackerBinary: context.config.sandbox.firecracker.binary }));
  for (const probe of detected) {
    const open = openers[probe.backend];
    if (!open) {
      status.push({
        backend: probe.backend,
        ready: false,
        detail: `${probe.detail}; the ${probe.backend} backend is not implemented yet`,
      });
      continue;
    }
    if (!probe.available) {
      status.push({ backend: probe.backend, ready: false, detail: probe.detail });
      continue;
    }
    const result = await open({ ...context, probe });
    if (result.ready) {
      opened.push(result.backend);
      closers.push(() => result.backend.close?.() ?? Promise.resolve());
    } else if (result.close) {
      closers.push(result.close);
    }
    status.push({ backend: probe.backend, ready: result.ready, detail: result.detail });
  }
  return { opened, status, closers };
}
