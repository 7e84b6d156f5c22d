import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  actionRequest,
  bootArgs,
  configurationRequests,
  vcpuCount,
  type FirecrackerRequest,
} from "./firecracker-api.js";

// Firecracker's own API specification (swagger 2.0), kept in `shared/` beside the repository:
// looked for in every directory above this one (a checkout, or a worktree one level deeper).
const SPEC = "shared/reference/firecracker-api.yaml";
const specText = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 12; i++) {
    try {
      return readFileSync(path.join(dir, SPEC), "utf8");
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  }
  return undefined;
})();
if (specText === undefined)
  console.log(`Firecracker contract tests skipped: no ${SPEC} above here`);

interface Schema {
  $ref?: string;
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  items?: Schema;
}

interface Spec {
  definitions: Record<string, Schema>;
  paths: Record<
    string,
    Record<string, { parameters?: { in: string; required?: boolean; schema?: Schema }[] }>
  >;
}

/**
 * Checks `value` against a swagger definition: required fields, types, enums, bounds, and no
 * field the definition does not name (a misspelt field would otherwise pass, and Firecracker
 * refuses unknown fields).
 */
function validate(spec: Spec, schema: Schema, value: unknown, at = "$"): string[] {
  if (schema.$ref) {
    const name = schema.$ref.replace("#/definitions/", "");
    const target = spec.definitions[name];
    return target ? validate(spec, target, value, at) : [`${at}: unknown $ref ${schema.$ref}`];
  }
  const errors: string[] = [];
  const type = schema.type ?? (schema.properties ? "object" : undefined);
  const actual = Array.isArray(value)
    ? "array"
    : Number.isInteger(value)
      ? "integer"
      : typeof value;
  if (type !== undefined) {
    const fits =
      type === actual ||
      (type === "number" && actual === "integer") ||
      (type === "object" && actual === "object" && value !== null);
    if (!fits) return [`${at}: expected ${type}, got ${actual}`];
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above maximum`);
  }
  if (type === "object" && value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (!(key in record)) errors.push(`${at}: missing required ${key}`);
    }
    for (const [key, v] of Object.entries(record)) {
      const prop = schema.properties?.[key];
      if (prop) errors.push(...validate(spec, prop, v, `${at}.${key}`));
      else if (typeof schema.additionalProperties === "object") {
        errors.push(...validate(spec, schema.additionalProperties, v, `${at}.${key}`));
      } else errors.push(`${at}: ${key} is not a field of this definition`);
    }
  }
  return errors;
}

/** Every request must exist in the spec, take a body of the named definition, and match it. */
function check(spec: Spec, request: FirecrackerRequest): string[] {
  const operation = spec.paths[request.specPath]?.[request.method.toLowerCase()];
  if (!operation) return [`${request.method} ${request.specPath} is not in the specification`];
  const bodyParam = operation.parameters?.find((p) => p.in === "body");
  if (!bodyParam?.schema) return [`${request.specPath} takes no body`];
  if (bodyParam.schema.$ref !== `#/definitions/${request.definition}`) {
    return [`${request.specPath} takes ${bodyParam.schema.$ref}, not ${request.definition}`];
  }
  const pattern = new RegExp(`^${request.specPath.replace(/\{[^}]+\}/g, "[^/]+")}$`);
  if (!pattern.test(request.path)) return [`${request.path} does not fit ${request.specPath}`];
  return validate(spec, bodyParam.schema, request.body);
}

const config = {
  vcpus: 1.5,
  memoryMib: 512,
  kernelPath: "/var/lib/aetherium/vm/vmlinux",
  initrdPath: "/var/lib/aetherium/vm/initrd.cpio",
  bootArgs: bootArgs("ip=10.213.0.2::10.213.0.1:255.255.240.0::eth0:off"),
  rootfsPath: "/run/aetherium/fc/sb-1/rootfs.ext4",
  configDrivePath: "/run/aetherium/fc/sb-1/config.img",
  network: { tap: "aev0123456789ab", mac: "02:ab:cd:ef:01:23" },
  vsock: { guestCid: 3, udsPath: "/run/aetherium/fc/sb-1/vsock.sock" },
  logPath: "/run/aetherium/fc/sb-1/log.fifo",
  metricsPath: "/run/aetherium/fc/sb-1/metrics.fifo",
};

describe.skipIf(specText === undefined)(
  "Firecracker API requests against its specification",
  () => {
    const spec = parse(specText ?? "{}") as Spec;

    it("every configuration request, with and without a network, matches its definition", () => {
      const all = [
        ...configurationRequests(config),
        ...configurationRequests({ ...config, network: undefined }),
        ...configurationRequests({ ...config, initrdPath: undefined, configDrivePath: undefined }),
      ];
      expect(all.map((r) => r.definition)).toEqual(
        expect.arrayContaining([
          "MachineConfiguration",
          "BootSource",
          "Drive",
          "NetworkInterface",
          "Vsock",
          "Logger",
          "Metrics",
        ]),
      );
      for (const request of all) expect(check(spec, request), request.path).toEqual([]);
      expect(
        configurationRequests({ ...config, network: undefined }).map((r) => r.path),
      ).not.toContain("/network-interfaces/eth0");
    });

    it("the config disk is a read-only second drive, after the root drive", () => {
      const drives = configurationRequests(config).filter((r) => r.definition === "Drive");
      expect(drives.map((d) => [d.path, d.body.is_root_device, d.body.is_read_only])).toEqual([
        ["/drives/rootfs", true, false],
        ["/drives/config", false, true],
      ]);
      const boot = configurationRequests(config).find((r) => r.definition === "BootSource");
      expect(boot?.body.initrd_path).toBe(config.initrdPath);
    });

    it("every action it sends is one the specification lists", () => {
      for (const action of ["InstanceStart", "SendCtrlAltDel", "FlushMetrics"] as const) {
        expect(check(spec, actionRequest(action))).toEqual([]);
      }
    });

    it("the checker catches what Firecracker would refuse", () => {
      const drive = configurationRequests(config).find((r) => r.definition === "Drive");
      if (!drive) throw new Error("no drive request");
      expect(check(spec, { ...drive, body: { ...drive.body, is_root_device: "yes" } })).toEqual([
        "$.is_root_device: expected boolean, got string",
      ]);
      expect(check(spec, { ...drive, body: { ...drive.body, cache_typ: "Unsafe" } })).toEqual([
        "$: cache_typ is not a field of this definition",
      ]);
      const { drive_id: _, ...noId } = drive.body;
      expect(check(spec, { ...drive, body: noId })).toEqual(["$: missing required drive_id"]);
      expect(
        check(spec, { ...actionRequest("InstanceStart"), body: { action_type: "Reboot" } })[0],
      ).toMatch(/not one of/);
      const vsock = configurationRequests(config).find((r) => r.definition === "Vsock");
      if (!vsock) throw new Error("no vsock request");
      expect(check(spec, { ...vsock, body: { ...vsock.body, guest_cid: 2 } })).toEqual([
        "$.guest_cid: below minimum",
      ]);
    });
  },
);

describe("Firecracker request details", () => {
  it("counts vCPUs as Firecracker does: 1 or even, at most 32", () => {
    expect([0.5, 1, 1.5, 2, 3, 4, 31, 64].map(vcpuCount)).toEqual([1, 1, 2, 2, 4, 4, 32, 32]);
  });

  it("boots with a serial console, no PCI, reboot-on-exit, and the network's ip= argument", () => {
    expect(bootArgs("ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off")).toBe(
      "console=ttyS0 reboot=k panic=1 pci=off ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off",
    );
    expect(bootArgs()).toBe("console=ttyS0 reboot=k panic=1 pci=off");
  });
});
