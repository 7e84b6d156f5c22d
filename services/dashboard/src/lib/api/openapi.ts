/** Reading the gateway's OpenAPI document into what the API explorer lists. @module */

export interface ApiParameter {
  readonly name: string;
  readonly in: "path" | "query" | "header" | "cookie";
  readonly required: boolean;
  readonly description?: string;
  readonly type?: string;
}

export interface ApiOperation {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly parameters: readonly ApiParameter[];
  readonly hasBody: boolean;
  readonly bodyExample?: string;
  readonly responses: readonly string[];
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? (v as Json) : {});

function resolveRef(doc: Json, v: unknown): Json {
  const ref = obj(v).$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return obj(v);
  let cur: unknown = doc;
  for (const part of ref.slice(2).split("/")) cur = obj(cur)[part];
  return obj(cur);
}

/** A small JSON example from a schema: required and first-level properties with placeholder values. */
export function exampleFromSchema(doc: Json, schemaIn: unknown, depth = 0): unknown {
  const schema = resolveRef(doc, schemaIn);
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const anyOf = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
  if (Array.isArray(anyOf) && anyOf.length) return exampleFromSchema(doc, anyOf[0], depth);
  const type = Array.isArray(schema.type) ? (schema.type[0] as unknown) : schema.type;
  if (type === "object" || schema.properties) {
    if (depth > 2) return {};
    const out: Json = {};
    const props = obj(schema.properties);
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    const keys = Object.keys(props);
    const chosen = required.size ? keys.filter((k) => required.has(k)) : keys.slice(0, 3);
    for (const k of chosen) out[k] = exampleFromSchema(doc, props[k], depth + 1);
    return out;
  }
  if (type === "array") return [];
  if (type === "integer" || type === "number") return 0;
  if (type === "boolean") return false;
  return "";
}

/** Every operation of the document, grouped by its first tag (or the path's first segment), sorted by path. */
export function listOperations(docIn: unknown): ApiOperation[] {
  const doc = obj(docIn);
  const ops: ApiOperation[] = [];
  for (const [path, itemIn] of Object.entries(obj(doc.paths))) {
    const item = obj(itemIn);
    const shared: unknown[] = Array.isArray(item.parameters) ? (item.parameters as unknown[]) : [];
    for (const method of METHODS) {
      if (!item[method]) continue;
      const op = obj(item[method]);
      const own: unknown[] = Array.isArray(op.parameters) ? (op.parameters as unknown[]) : [];
      const params = [...shared, ...own].map((p): ApiParameter => {
        const r = resolveRef(doc, p);
        const schema = obj(r.schema);
        return {
          name: String(r.name),
          in: (r.in as ApiParameter["in"]) ?? "query",
          required: r.required === true || r.in === "path",
          ...(typeof r.description === "string" ? { description: r.description } : {}),
          ...(typeof schema.type === "string" ? { type: schema.type } : {}),
        };
      });
      const body = obj(obj(obj(resolveRef(doc, op.requestBody)).content)["application/json"]);
      const hasBody = Object.keys(body).length > 0;
      const tags = Array.isArray(op.tags) ? (op.tags as string[]) : [];
      const seg = path.replace(/^\/api\/v1/, "").split("/")[1] ?? "";
      ops.push({
        id: `${method} ${path}`,
        method: method.toUpperCase(),
        path,
        tag: tags[0] ?? (seg || "other"),
        summary: typeof op.summary === "string" ? op.summary : "",
        ...(typeof op.description === "string" ? { description: op.description } : {}),
        parameters: params,
        hasBody,
        ...(hasBody
          ? { bodyExample: JSON.stringify(exampleFromSchema(doc, body.schema), null, 2) }
          : {}),
        responses: Object.keys(obj(op.responses)),
      });
    }
  }
  return ops.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** Replaces `{id}` / `:id` path parameters with their (URL-encoded) values. */
export function fillPath(path: string, values: Readonly<Record<string, string>>): string {
  return path.replace(
    /\{([^}]+)\}|:([A-Za-z_]\w*)/g,
    (_m, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      return encodeURIComponent(values[name] ?? "");
    },
  );
}
