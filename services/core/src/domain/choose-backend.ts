import type { VmBackend, VmBackendSetting } from "@aetherium/types";

/**
 * The order `auto` tries backends in. Firecracker first: where a worker has KVM it gives each
 * sandbox its own kernel (hardware isolation) and still boots in a fraction of a second. Docker
 * next: containers share the host kernel, weaker isolation, but they run on any Linux host. QEMU
 * last: on a worker without KVM it emulates the CPU (TCG), which is isolated but far slower.
 */
export const AUTO_BACKEND_PREFERENCE: readonly VmBackend[] = ["firecracker", "docker", "qemu"];

/**
 * What `auto` falls back to when no active worker offers any backend: the create is still taken
 * and waits for a worker, and Docker is what a worker most often starts with.
 */
export const AUTO_BACKEND_FALLBACK: VmBackend = "docker";

/**
 * The backend a create lands on: the one the request names; otherwise the configured default;
 * and for `auto`, the first of {@link AUTO_BACKEND_PREFERENCE} that `offered` (the backends of
 * the active workers that could take it) holds, or {@link AUTO_BACKEND_FALLBACK} when it holds
 * none. Whether the fleet can run the result is admission's question, not this one's.
 */
export function chooseBackend(input: {
  readonly requested?: VmBackend | undefined;
  readonly configured: VmBackendSetting;
  readonly offered: Iterable<VmBackend>;
}): VmBackend {
  if (input.requested) return input.requested;
  if (input.configured !== "auto") return input.configured;
  const offered = new Set(input.offered);
  return AUTO_BACKEND_PREFERENCE.find((b) => offered.has(b)) ?? AUTO_BACKEND_FALLBACK;
}
