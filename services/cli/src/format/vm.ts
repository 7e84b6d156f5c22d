/**
 * How sandboxes look in human output.
 * @module
 */
import type { Vm } from "@aetherium/types";
import { age, keyValues, mib, pairs, table, until } from "./table.js";

/** `aether vm ls` table. */
export function vmTable(vms: readonly Vm[], now = new Date()): string {
  return table(
    ["ID", "NAME", "STATUS", "BACKEND", "CPUS", "MEMORY", "AGE", "LABELS"],
    vms.map((vm) => [
      vm.id,
      vm.name,
      vm.status,
      vm.backend,
      String(vm.vcpus),
      mib(vm.memoryMb),
      age(vm.createdAt, now),
      pairs(vm.labels),
    ]),
  );
}

/** `aether vm get` details. */
export function vmDetails(vm: Vm, now = new Date()): string {
  return keyValues([
    ["id", vm.id],
    ["name", vm.name],
    ["status", vm.status],
    ["error", vm.error],
    // Only while it waits to be placed: why ("waiting for capacity: …").
    ...(vm.status === "pending" && vm.pendingReason
      ? [["waiting", vm.pendingReason] as const]
      : []),
    ["backend", vm.backend],
    ["image", vm.image],
    ["cpus", vm.vcpus],
    ["memory", mib(vm.memoryMb)],
    ["disk", mib(vm.diskMb)],
    ["worker", vm.workerId],
    ["labels", pairs(vm.labels)],
    ["env", Object.keys(vm.env).join(",") || "-"],
    [
      "network",
      typeof vm.network.egress === "string"
        ? vm.network.egress
        : `allow ${vm.network.egress.allow.join(",")}`,
    ],
    ["created", `${vm.createdAt} (${age(vm.createdAt, now)} ago)`],
    ["ready", vm.readyAt],
    ["expires", vm.expiresAt ? `${vm.expiresAt} (${until(vm.expiresAt, now)})` : null],
    ["stopped", vm.stoppedAt],
  ]);
}
