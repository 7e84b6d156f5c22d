import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { Deployment, DaemonSet } from "kubernetes-models/apps/v1";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderUmbrella, validateValues } from "../chart-render/render-chart.js";
import { deployAetherium } from "./deploy-aetherium.js";
import { readStackConfig, type ConfigSource } from "./stack-config.js";

// The program under Pulumi's runtime mocks: every resource it registers is recorded with its
// inputs (no engine, no cluster). The stacks' own Pulumi.<stack>.yaml files feed the config.
interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}
const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs as Record<string, unknown>,
        });
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "aetherium",
    "test",
    false,
  );
});

const pulumiDir = fileURLToPath(new URL("../../", import.meta.url));
const chartPath = fileURLToPath(new URL("../../../helm/aetherium", import.meta.url));
const SECRETS = {
  databaseUrl: "postgres://aet:db-pass-4d1f@pg:5432/aetherium",
  redisUrl: "redis://:redis-pass-77aa@redis:6379",
  apiKey: "aet_admin_key_0123456789",
  encryptionKey: "enc-key-0123456789-0123456789-0123456789",
};

/** A stack's config as `pulumi.Config("aetherium")` would read it, secrets set as secrets. */
function stackSource(stack: string, extra: Record<string, string> = {}): ConfigSource {
  const file = parse(readFileSync(`${pulumiDir}Pulumi.${stack}.yaml`, "utf8")) as {
    config: Record<string, unknown>;
  };
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(file.config)) plain[k.replace(/^aetherium:/, "")] = String(v);
  Object.assign(plain, extra);
  return {
    get: (key) => (plain[key] === "" ? undefined : plain[key]),
    requireSecret: (key) => {
      const v = SECRETS[key as keyof typeof SECRETS];
      if (!v) throw new Error(`missing secret ${key}`);
      return pulumi.secret(v);
    },
  };
}

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const settle = () => new Promise((r) => setTimeout(r, 50));

describe.each(["dev", "prod"])("the %s stack", (stack) => {
  it("declares the namespace, the Secret and one release of the umbrella chart, wired together", async () => {
    registered.length = 0;
    const config = readStackConfig(stackSource(stack));
    const d = deployAetherium(config, { chartPath, releaseName: `aet-${stack}` });
    expect(await value(d.namespace.metadata.name)).toBe(config.namespace);
    await value(d.release.name);
    await settle();

    expect(registered.map((r) => `${r.type}::${r.name}`).sort()).toEqual([
      "kubernetes:core/v1:Namespace::aetherium",
      "kubernetes:core/v1:Secret::aetherium-secrets",
      "kubernetes:helm.sh/v3:Release::aetherium",
    ]);
    const secret = registered.find((r) => r.type === "kubernetes:core/v1:Secret")!.inputs as {
      metadata: { name: string; namespace: string };
      stringData: Record<string, unknown>;
    };
    expect(secret.metadata).toEqual({ name: `aet-${stack}-secrets`, namespace: config.namespace });
    // The data reaches the engine marked secret (Pulumi's wire form), so state stores it encrypted.
    expect(secret.stringData[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
    expect(secret.stringData.value).toEqual({
      "database-url": SECRETS.databaseUrl,
      "redis-url": SECRETS.redisUrl,
      "api-key": SECRETS.apiKey,
      "encryption-key": SECRETS.encryptionKey,
    });

    const release = registered.find((r) => r.type === "kubernetes:helm.sh/v3:Release")!.inputs as {
      name: string;
      chart: string;
      namespace: string;
      dependencyUpdate: boolean;
      values: Record<string, Record<string, unknown>>;
    };
    expect(release).toMatchObject({
      name: `aet-${stack}`,
      chart: chartPath,
      namespace: config.namespace,
      dependencyUpdate: true,
    });
    expect(release.values.global).toMatchObject({
      secretName: `aet-${stack}-secrets`,
      imageTag: config.imageTag,
    });
    expect(release.values.gateway).toMatchObject({ replicaCount: config.gatewayReplicas });
    expect(release.values.worker).toMatchObject({
      kind: config.workerKind,
      nodeSelector: config.workerNodeSelector,
    });
    // No secret value travels through Helm values; the charts read the Secret by name.
    const text = JSON.stringify(release.values);
    for (const s of Object.values(SECRETS)) expect(text).not.toContain(s);
    expect(await value(d.gatewayUrl)).toBe(`http://aet-${stack}-gateway.${config.namespace}:8080`);

    // The values the program passes are ones the chart accepts and renders into valid objects.
    validateValues(chartPath, release.values);
    const objects = renderUmbrella(
      chartPath,
      { name: `aet-${stack}`, namespace: config.namespace },
      release.values,
    );
    const workers = objects.find((o) => o.source === "worker/templates/workload.yaml")!.object;
    expect(workers.metadata.name).toBe(`aet-${stack}-worker`);
    expect(workers.kind).toBe(config.workerKind);
    const Model = workers.kind === "DaemonSet" ? DaemonSet : Deployment;
    expect(() => new Model(workers as never).validate()).not.toThrow();
    const podSpec = (
      workers.spec as { template: { spec: { nodeSelector?: Record<string, string> } } }
    ).template.spec;
    expect(podSpec.nodeSelector ?? {}).toEqual(config.workerNodeSelector);
    const gateway = objects.find(
      (o) => o.object.metadata.name === `aet-${stack}-gateway` && o.object.kind === "Deployment",
    )!;
    expect((gateway.object.spec as { replicas: number }).replicas).toBe(config.gatewayReplicas);
  });
});

describe("stack configuration", () => {
  it("takes prod's worker placement: a DaemonSet on the labelled KVM nodes", () => {
    const prod = readStackConfig(stackSource("prod"));
    expect(prod).toMatchObject({
      workerKind: "DaemonSet",
      workerNodeSelector: { "aetherium.dev/worker": "true" },
      workerKvm: true,
      gatewayReplicas: 3,
      maxWorkers: 20,
    });
  });

  it("refuses a bad stack before anything is declared, naming the key", () => {
    expect(() => readStackConfig(stackSource("dev", { namespace: "Aetherium_Dev" }))).toThrow(
      /aetherium:namespace/,
    );
    expect(() => readStackConfig(stackSource("dev", { workerKind: "StatefulSet" }))).toThrow(
      /aetherium:workerKind/,
    );
    expect(() => readStackConfig(stackSource("dev", { workerKind: "DaemonSet" }))).toThrow(
      /exactly one label/,
    );
    expect(() => readStackConfig(stackSource("dev", { minWorkers: "5", maxWorkers: "2" }))).toThrow(
      /minWorkers/,
    );
    expect(() => readStackConfig(stackSource("dev", { gatewayReplicas: "0" }))).toThrow(
      /gatewayReplicas/,
    );
    expect(() =>
      readStackConfig(stackSource("dev", { workerNodeSelector: '{"bad key!":"x"}' })),
    ).toThrow(/workerNodeSelector/);
  });
});
