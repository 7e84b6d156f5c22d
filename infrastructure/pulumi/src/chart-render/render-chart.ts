import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { parse, parseAllDocuments } from "yaml";
import { ChartTemplates } from "./go-template.js";

type Values = Record<string, unknown>;

/** One Kubernetes object a chart rendered, with the template it came from. */
export interface RenderedObject {
  readonly source: string;
  readonly object: { apiVersion: string; kind: string; metadata: { name: string } } & Values;
}

/** The release a chart is rendered for. */
export interface ReleaseInfo {
  readonly name: string;
  readonly namespace: string;
}

interface ChartMeta {
  name: string;
  version: string;
  appVersion?: string;
  dependencies?: { name: string; repository: string; condition?: string }[];
}

const isMap = (v: unknown): v is Values => typeof v === "object" && v !== null && !Array.isArray(v);

/** Helm's coalescing of values: maps merge key by key, `null` removes a key, the rest replaces. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k], v);
    else out[k] = v;
  }
  return out;
}

/** Thrown when values break a chart's values.schema.json; lists every violation. */
export class ValuesSchemaError extends Error {}

const ajv = new Ajv({ allErrors: true, strict: false });

/** Checks values against the chart's `values.schema.json`, as `helm install` does. */
export function validateValues(chartDir: string, values: Values): void {
  const schema = JSON.parse(
    readFileSync(path.join(chartDir, "values.schema.json"), "utf8"),
  ) as object;
  const check = ajv.compile(schema);
  if (!check(values)) {
    const lines = (check.errors ?? []).map(
      (e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`,
    );
    throw new ValuesSchemaError(
      `${path.basename(chartDir)}: values do not match values.schema.json:\n  ${lines.join("\n  ")}`,
    );
  }
}

/** The chart's values.yaml, merged with `overrides`. */
export function chartValues(chartDir: string, overrides: Values = {}): Values {
  const defaults = (parse(readFileSync(path.join(chartDir, "values.yaml"), "utf8")) ??
    {}) as Values;
  return mergeValues(defaults, overrides);
}

function readTemplates(chartDir: string): ChartTemplates {
  const templates = new ChartTemplates();
  const dir = path.join(chartDir, "templates");
  for (const file of readdirSync(dir).sort()) {
    if (!/\.(ya?ml|tpl)$/.test(file)) continue;
    templates.add(`templates/${file}`, readFileSync(path.join(dir, file), "utf8"));
  }
  return templates;
}

function meta(chartDir: string): ChartMeta {
  return parse(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8")) as ChartMeta;
}

/**
 * Renders one chart the way `helm template` would for the supported template subset: values
 * are merged over values.yaml, checked against values.schema.json, rendered, and each YAML
 * document parsed (empty documents dropped, as Helm drops them).
 */
export function renderChart(
  chartDir: string,
  release: ReleaseInfo,
  overrides: Values = {},
): RenderedObject[] {
  const chart = meta(chartDir);
  const values = chartValues(chartDir, overrides);
  validateValues(chartDir, values);
  const root = {
    Values: values,
    Release: { Name: release.name, Namespace: release.namespace, Service: "Helm", IsInstall: true },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion ?? "" },
  };
  const out: RenderedObject[] = [];
  for (const [source, text] of readTemplates(chartDir).render(root)) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length)
        throw new Error(`${chart.name}/${source}: ${doc.errors[0]!.message}\n${text}`);
      const object = doc.toJS() as RenderedObject["object"] | null;
      if (object) out.push({ source: `${chart.name}/${source}`, object });
    }
  }
  return out;
}

/**
 * Renders an umbrella chart: its own values (checked against its schema), then each `file://`
 * dependency whose condition holds, with the umbrella's section for it merged over the
 * subchart's values.yaml and `global` handed down, as Helm coalesces them.
 */
export function renderUmbrella(
  chartDir: string,
  release: ReleaseInfo,
  overrides: Values = {},
): RenderedObject[] {
  const chart = meta(chartDir);
  const values = chartValues(chartDir, overrides);
  validateValues(chartDir, values);
  const out: RenderedObject[] = [];
  for (const dep of chart.dependencies ?? []) {
    const section = isMap(values[dep.name]) ? (values[dep.name] as Values) : {};
    if (dep.condition && section.enabled === false) continue;
    if (!dep.repository.startsWith("file://"))
      throw new Error(`${dep.name}: only file:// dependencies render here`);
    const subDir = path.resolve(chartDir, dep.repository.slice("file://".length));
    const subDefaults = chartValues(subDir);
    const global = mergeValues(
      isMap(subDefaults.global) ? subDefaults.global : {},
      isMap(values.global) ? values.global : {},
    );
    out.push(...renderChart(subDir, release, { ...section, global }));
  }
  return out;
}
