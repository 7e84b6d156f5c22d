import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { deployAetherium } from "./stack/deploy-aetherium.js";
import { readStackConfig } from "./stack/stack-config.js";

// The Pulumi program (Pulumi.yaml's `main`): one stack per environment, Pulumi.<stack>.yaml.
const deployment = deployAetherium(readStackConfig(new pulumi.Config("aetherium")), {
  chartPath: fileURLToPath(new URL("../../helm/aetherium", import.meta.url)),
});

export const namespace = deployment.namespace.metadata.name;
export const releaseName = deployment.release.name;
export const gatewayUrl = deployment.gatewayUrl;
