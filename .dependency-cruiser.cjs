/**
 * The golden rule: imports flow one way.
 *   dashboard → sdk → types;  cli → sdk;
 *   server → gateway, worker;  gateway / k8s-manager → core;  worker → core, agent;
 *   core → libs;  agent → types;  libs never import services.
 * Packages meet only through their `exports`; nothing reaches into another package's folder.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "A cycle makes build order and reasoning impossible; break it with an interface in a lib.",
      from: {},
      to: { circular: true },
    },
    {
      name: "lib-imports-service",
      severity: "error",
      comment: "Libraries serve services, never the other way round.",
      from: { path: "^libs/" },
      to: { path: "^services/" },
    },
    {
      name: "types-imports-only-zod",
      severity: "error",
      comment: "libs/types is the bottom of the graph: zod and nothing else of ours.",
      from: { path: "^libs/types/" },
      to: { path: "^(libs|services|tests|infrastructure)/(?!types/)" },
    },
    {
      name: "common-imports-only-types",
      severity: "error",
      comment: "libs/common may build on libs/types only.",
      from: { path: "^libs/common/src/", pathNot: "\\.test\\.ts$" },
      to: { path: "^(libs|services)/(?!(types|common)/)" },
    },
    {
      name: "sdk-imports-only-types",
      severity: "error",
      comment: "The SDK runs in browsers: types only, no server code.",
      from: { path: "^libs/sdk/src/", pathNot: "\\.test\\.ts$" },
      to: { path: "^(libs|services)/(?!(types|sdk)/)" },
    },
    {
      name: "cli-imports-only-sdk",
      severity: "error",
      comment:
        "The aether CLI is a client like any other: it reaches the platform through @aetherium/sdk only.",
      from: { path: "^services/cli/src/", pathNot: "(\\.test\\.ts$|^services/cli/src/testing/)" },
      to: { path: "^(services/(?!cli/)|libs/(common|testing)/)" },
    },
    {
      name: "core-imports-upper-service",
      severity: "error",
      comment:
        "core is the control plane under every process: it imports libs only, never a deployable above it.",
      from: { path: "^services/core/" },
      to: { path: "^services/(?!core/)" },
    },
    {
      name: "gateway-imports-worker",
      severity: "error",
      comment:
        "A gateway reaches workers over HTTP (the data-plane client in core), never by importing the worker or the guest agent: it must run on a host with no Docker at all.",
      from: { path: "^services/gateway/" },
      to: { path: "^services/(worker|agent|server)/" },
    },
    {
      name: "agent-imports-beyond-types",
      severity: "error",
      comment:
        "The guest agent runs inside every sandbox: it is built from @aetherium/types and its own wire module, nothing else of ours.",
      from: { path: "^services/agent/" },
      to: { path: "^(libs|services)/(?!(types|agent)/)" },
    },
    {
      name: "worker-imports-upper-service",
      severity: "error",
      comment:
        "The worker builds on core and the agent's wire module; the gateway, the server command and the clients are above it.",
      from: { path: "^services/worker/" },
      to: { path: "^services/(gateway|server|cli|dashboard|k8s-manager)/" },
    },
    {
      name: "dashboard-imports-server-code",
      severity: "error",
      comment: "The dashboard talks to the gateway through @aetherium/sdk only.",
      from: { path: "^services/dashboard/" },
      to: {
        path: "^(services/(core|gateway|k8s-manager|worker|agent|server)|libs/(common|testing))/",
      },
    },
    {
      name: "service-imports-service-sideways",
      severity: "error",
      comment: "gateway and k8s-manager are peers: they share code through core or libs.",
      from: { path: "^services/(gateway|k8s-manager)/" },
      to: {
        path: "^services/(gateway|k8s-manager|dashboard|server)/",
        pathNot: "^services/$1/",
      },
    },
    {
      name: "production-imports-testing",
      severity: "error",
      comment: "Test fixtures stay out of shipped code.",
      from: {
        path: "^(libs|services)/[^/]+/src/",
        // src/testing/: a package's test-only helpers, excluded from its build like *.test.ts.
        pathNot: "(\\.test\\.ts$|^libs/testing/|^services/[^/]+/src/testing/)",
      },
      to: { path: "^libs/testing/" },
    },
    {
      name: "production-imports-package-testing",
      severity: "error",
      comment: "A package's src/testing/ helpers serve its tests only; they are not built.",
      from: {
        path: "^services/[^/]+/src/",
        pathNot: "(\\.test\\.ts$|^services/[^/]+/src/testing/)",
      },
      to: { path: "^services/[^/]+/src/testing/" },
    },
    {
      name: "reach-into-another-package",
      severity: "error",
      comment:
        "Import another package by its name (its `exports`), never by a relative path into its folder.",
      from: { path: "^((libs|services|tests)/[^/]+|infrastructure/pulumi)/" },
      to: {
        dependencyTypes: ["local"],
        // By-name imports of a workspace resolve to its folder too, but through its `exports`.
        dependencyTypesNot: ["aliased-workspace"],
        path: "^((libs|services|tests)/[^/]+|infrastructure/pulumi)/",
        pathNot: "^$1/",
      },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment:
        "An import that does not resolve: often a deep import of a package internal that its `exports` does not offer.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|dist-agent|coverage|\\.next|out)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.tests.json" },
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["@aetherium/source", "import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".tsx", ".d.ts", ".js", ".mjs", ".cjs", ".json"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
