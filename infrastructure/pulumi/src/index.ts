/**
 * Aetherium's Pulumi program: a namespace, the Secret and one release of the umbrella Helm chart
 * per stack (`src/main.ts` is the program; these are its parts, testable with Pulumi's mocks).
 * @module
 */
export { deployAetherium, type AetheriumDeployment } from "./stack/deploy-aetherium.js";
export { readStackConfig, type ConfigSource, type StackConfig } from "./stack/stack-config.js";
export { SECRET_KEYS, umbrellaValues } from "./stack/umbrella-values.js";
export {
  chartValues,
  mergeValues,
  renderChart,
  renderUmbrella,
  validateValues,
  ValuesSchemaError,
  type ReleaseInfo,
  type RenderedObject,
} from "./chart-render/render-chart.js";
export { ChartTemplates, TemplateError } from "./chart-render/go-template.js";
