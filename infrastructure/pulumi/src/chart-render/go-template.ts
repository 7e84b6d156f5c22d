import { stringify } from "yaml";

/**
 * A renderer for the subset of Go's text/template and Helm's functions that Aetherium's charts
 * use, so the charts can be rendered and checked where no `helm` binary exists. It follows Go's
 * semantics where the charts depend on them: `{{-`/`-}}` trim whitespace, `if`/`with` test
 * emptiness (false, 0, "", nil, empty list or map), a field of a missing value is an error (Go's
 * "nil pointer evaluating"), a missing key prints as "" (Helm's post-processing of
 * "<no value>"), and a pipeline passes its value as the last argument of the next command.
 * Anything outside the subset is refused with an error naming it, never guessed at.
 */

type Value = unknown;
type Scope = Map<string, Value>;

interface TextNode {
  readonly t: "text";
  readonly text: string;
}
interface ActionNode {
  readonly t: "action";
  readonly pipe: Pipeline;
}
interface IfNode {
  readonly t: "if" | "with";
  readonly branches: { cond: Pipeline; body: Node[] }[];
  readonly otherwise: Node[];
}
interface RangeNode {
  readonly t: "range";
  readonly pipe: Pipeline;
  readonly body: Node[];
  readonly otherwise: Node[];
}
type Node = TextNode | ActionNode | IfNode | RangeNode;

type Operand =
  | { k: "lit"; v: Value }
  // base: "dot" for `.x.y`, else a variable's name (`$`, `$v`).
  | { k: "field"; base: string; path: string[] }
  | { k: "pipe"; pipe: Pipeline };
interface Command {
  readonly fn?: string;
  readonly args: Operand[];
}
interface Pipeline {
  readonly decl: string[];
  readonly cmds: Command[];
  readonly src: string;
}

/** A parse or render error, with the template's name. */
export class TemplateError extends Error {}

// ---- lexing ---------------------------------------------------------------------------------

interface RawAction {
  readonly body: string;
}

function split(src: string, name: string): (string | RawAction)[] {
  const out: (string | RawAction)[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      out.push(src.slice(i));
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(start, start + 2))) {
      text = text.replace(/[ \t\r\n]+$/, "");
      start += 1;
    }
    out.push(text);
    const close = src.indexOf("}}", start);
    if (close < 0) throw new TemplateError(`${name}: unclosed action`);
    let body = src.slice(start, close);
    let end = close + 2;
    if (/[ \t\r\n]-$/.test(body)) {
      body = body.slice(0, -1);
      end = close + 2;
      const rest = src.slice(end);
      const ws = /^[ \t\r\n]*/.exec(rest)![0].length;
      end += ws;
    }
    out.push({ body: body.trim() });
    i = end;
  }
  return out;
}

type Tok =
  | { k: "str"; v: string }
  | { k: "num"; v: number }
  | { k: "field"; v: string }
  | { k: "var"; v: string }
  | { k: "id"; v: string }
  | { k: "punct"; v: "|" | "(" | ")" | ":=" | "," };

function tokenize(s: string, name: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
      toks.push({ k: "str", v: JSON.parse(s.slice(i, j + 1)) as string });
      i = j + 1;
      continue;
    }
    if (c === "`") {
      const j = s.indexOf("`", i + 1);
      toks.push({ k: "str", v: s.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (s.startsWith(":=", i)) {
      toks.push({ k: "punct", v: ":=" });
      i += 2;
      continue;
    }
    if (c === "|" || c === "(" || c === ")" || c === ",") {
      toks.push({ k: "punct", v: c });
      i++;
      continue;
    }
    const m =
      /^-?\d+(\.\d+)?/.exec(s.slice(i)) ??
      /^\$[A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*/.exec(s.slice(i)) ??
      /^(\.[A-Za-z0-9_-]+)+|^\./.exec(s.slice(i)) ??
      /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (!m) throw new TemplateError(`${name}: cannot read "${s.slice(i)}"`);
    const w = m[0];
    if (/^-?\d/.test(w)) toks.push({ k: "num", v: Number(w) });
    else if (w.startsWith("$")) toks.push({ k: "var", v: w });
    else if (w.startsWith(".")) toks.push({ k: "field", v: w });
    else toks.push({ k: "id", v: w });
    i += w.length;
  }
  return toks;
}

function parsePipeline(src: string, name: string): Pipeline {
  const toks = tokenize(src, name);
  let p = 0;
  const decl: string[] = [];
  // `$x :=` or `$k, $v :=`
  const assign = toks.findIndex((t) => t.k === "punct" && t.v === ":=");
  if (assign > 0) {
    for (const t of toks.slice(0, assign)) {
      if (t.k === "var") decl.push(t.v);
      else if (!(t.k === "punct" && t.v === ","))
        throw new TemplateError(`${name}: bad declaration in "${src}"`);
    }
    p = assign + 1;
  }
  const parse = (stopAtParen: boolean): Command[] => {
    const cmds: Command[] = [];
    let cur: Operand[] = [];
    let fn: string | undefined;
    const flush = () => {
      if (!fn && cur.length === 0) throw new TemplateError(`${name}: empty command in "${src}"`);
      if (!fn && cur.length > 1)
        throw new TemplateError(`${name}: "${src}" has arguments but no function`);
      cmds.push({ ...(fn ? { fn } : {}), args: cur });
      cur = [];
      fn = undefined;
    };
    while (p < toks.length) {
      const t = toks[p++]!;
      if (t.k === "punct" && t.v === "|") {
        flush();
        continue;
      }
      if (t.k === "punct" && t.v === ")") {
        if (!stopAtParen) throw new TemplateError(`${name}: unbalanced ")" in "${src}"`);
        flush();
        return cmds;
      }
      if (t.k === "punct" && t.v === "(") {
        cur.push({ k: "pipe", pipe: { decl: [], cmds: parse(true), src } });
        continue;
      }
      if (t.k === "id") {
        if (t.v === "true" || t.v === "false") cur.push({ k: "lit", v: t.v === "true" });
        else if (t.v === "nil") cur.push({ k: "lit", v: null });
        else if (cur.length === 0 && !fn) fn = t.v;
        else throw new TemplateError(`${name}: "${t.v}" must come first in its command ("${src}")`);
        continue;
      }
      if (t.k === "str" || t.k === "num") cur.push({ k: "lit", v: t.v });
      else if (t.k === "field")
        cur.push({ k: "field", base: "dot", path: t.v.split(".").filter(Boolean) });
      else if (t.k === "var") {
        const [base, ...path] = t.v.split(".");
        cur.push({ k: "field", base: base!, path });
      } else throw new TemplateError(`${name}: unexpected "${t.v}" in "${src}"`);
    }
    if (stopAtParen) throw new TemplateError(`${name}: unclosed "(" in "${src}"`);
    flush();
    return cmds;
  };
  return { decl, cmds: parse(false), src };
}

/** Parses a template; `define`d blocks go to `defines`. */
function parse(src: string, name: string, defines: Map<string, Node[]>): Node[] {
  const parts = split(src, name);
  let i = 0;
  const block = (ends: readonly string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (i < parts.length) {
      const part = parts[i++]!;
      if (typeof part === "string") {
        if (part) nodes.push({ t: "text", text: part });
        continue;
      }
      const body = part.body;
      if (body.startsWith("/*")) continue;
      const word = /^[a-z]+/.exec(body)?.[0] ?? "";
      if (word === "end" || word === "else") {
        if (!ends.includes(word)) throw new TemplateError(`${name}: unexpected {{${body}}}`);
        return { nodes, end: body };
      }
      if (word === "if" || word === "with") {
        const branches = [
          { cond: parsePipeline(body.slice(word.length), name), body: [] as Node[] },
        ];
        let otherwise: Node[] = [];
        for (;;) {
          const r = block(["end", "else"]);
          const last = branches[branches.length - 1]!;
          if (last.body.length === 0) last.body = r.nodes;
          if (r.end === "end") break;
          const rest = r.end.slice(4).trim();
          if (rest.startsWith(`${word} `) || rest === word) {
            branches.push({ cond: parsePipeline(rest.slice(word.length), name), body: [] });
            continue;
          }
          if (rest) throw new TemplateError(`${name}: unsupported {{${r.end}}}`);
          const e = block(["end"]);
          otherwise = e.nodes;
          break;
        }
        nodes.push({ t: word, branches, otherwise });
        continue;
      }
      if (word === "range") {
        const pipe = parsePipeline(body.slice(5), name);
        const r = block(["end", "else"]);
        const otherwise = r.end === "end" ? [] : block(["end"]).nodes;
        nodes.push({ t: "range", pipe, body: r.nodes, otherwise });
        continue;
      }
      if (word === "define") {
        const m = /^define\s+"([^"]+)"$/.exec(body);
        if (!m) throw new TemplateError(`${name}: bad define {{${body}}}`);
        defines.set(m[1]!, block(["end"]).nodes);
        continue;
      }
      if (["template", "block", "break", "continue"].includes(word) && !/^[a-z]+\s*\|/.test(body)) {
        throw new TemplateError(`${name}: {{${word}}} is outside the supported subset`);
      }
      nodes.push({ t: "action", pipe: parsePipeline(body, name) });
    }
    if (ends.length) throw new TemplateError(`${name}: missing {{end}}`);
    return { nodes, end: "" };
  };
  return block([]).nodes;
}

// ---- evaluation -----------------------------------------------------------------------------

function isEmpty(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v).length === 0;
  return false;
}

function toText(v: Value): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new TemplateError(
    `cannot print a ${Array.isArray(v) ? "list" : "map"} directly; use toYaml`,
  );
}

function indent(n: number, s: string): string {
  const pad = " ".repeat(n);
  return s
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

function sprintf(format: string, args: Value[]): string {
  let i = 0;
  return format.replace(/%[sdvq%]/g, (m) => {
    if (m === "%%") return "%";
    const a = args[i++];
    if (m === "%q") return JSON.stringify(toText(a));
    if (m === "%d" && typeof a !== "number") throw new TemplateError(`printf %d of ${typeof a}`);
    return toText(a);
  });
}

/** Templates of one chart: its files and their `define`s, rendered against one root context. */
export class ChartTemplates {
  readonly #defines = new Map<string, Node[]>();
  readonly #files = new Map<string, Node[]>();

  /** Adds a template file (`templates/x.yaml`); files whose name starts with `_` only define. */
  add(name: string, source: string): void {
    const nodes = parse(source, name, this.#defines);
    if (!/(^|\/)_[^/]*$/.test(name)) this.#files.set(name, nodes);
  }

  /** Renders every non-partial file against `root` (`.Values`, `.Release`, `.Chart`). */
  render(root: Record<string, Value>): Map<string, string> {
    const out = new Map<string, string>();
    for (const [name, nodes] of this.#files) {
      try {
        out.set(name, this.#exec(nodes, root, new Map([["$", root]]), root));
      } catch (err) {
        throw new TemplateError(`${name}: ${(err as Error).message}`);
      }
    }
    return out;
  }

  #exec(nodes: readonly Node[], dot: Value, scope: Scope, root: Value): string {
    let out = "";
    for (const n of nodes) {
      if (n.t === "text") out += n.text;
      else if (n.t === "action") {
        const v = this.#pipe(n.pipe, dot, scope, root);
        if (n.pipe.decl.length === 0) out += toText(v);
      } else if (n.t === "if" || n.t === "with") {
        let done = false;
        for (const b of n.branches) {
          const v = this.#pipe(b.cond, dot, scope, root);
          if (!isEmpty(v)) {
            out += this.#exec(b.body, n.t === "with" ? v : dot, new Map(scope), root);
            done = true;
            break;
          }
        }
        if (!done) out += this.#exec(n.otherwise, dot, new Map(scope), root);
      } else {
        out += this.#range(n as RangeNode, dot, scope, root);
      }
    }
    return out;
  }

  #range(n: RangeNode, dot: Value, scope: Scope, root: Value): string {
    const v = this.#pipe({ ...n.pipe, decl: [] }, dot, scope, root);
    let entries: [Value, Value][];
    if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (v && typeof v === "object") {
      entries = Object.keys(v)
        .sort()
        .map((k) => [k, (v as Record<string, Value>)[k]]);
    } else if (isEmpty(v)) entries = [];
    else throw new TemplateError(`range over ${typeof v}`);
    if (entries.length === 0) return this.#exec(n.otherwise, dot, new Map(scope), root);
    let out = "";
    for (const [k, x] of entries) {
      const s = new Map(scope);
      if (n.pipe.decl.length === 1) s.set(n.pipe.decl[0]!, x);
      if (n.pipe.decl.length === 2) {
        s.set(n.pipe.decl[0]!, k);
        s.set(n.pipe.decl[1]!, x);
      }
      out += this.#exec(n.body, x, s, root);
    }
    return out;
  }

  #pipe(p: Pipeline, dot: Value, scope: Scope, root: Value): Value {
    let acc: Value;
    let first = true;
    for (const c of p.cmds) {
      const args = c.args.map((a) => this.#operand(a, dot, scope, root));
      if (!first) args.push(acc);
      first = false;
      if (!c.fn) {
        acc =
          args.length === 1
            ? args[0]
            : (() => {
                throw new TemplateError(`"${p.src}": a value cannot take arguments`);
              })();
      } else acc = this.#call(c.fn, args, root);
    }
    if (p.decl.length === 1) scope.set(p.decl[0]!, acc);
    return acc;
  }

  #operand(o: Operand, dot: Value, scope: Scope, root: Value): Value {
    if (o.k === "lit") return o.v;
    if (o.k === "pipe") return this.#pipe(o.pipe, dot, scope, root);
    let v: Value;
    if (o.base === "dot") v = dot;
    else {
      if (!scope.has(o.base)) throw new TemplateError(`undefined variable ${o.base}`);
      v = scope.get(o.base);
    }
    const walked: string[] = [];
    for (const key of o.path) {
      if (v === undefined || v === null) {
        throw new TemplateError(`nil pointer evaluating .${[...walked, key].join(".")}`);
      }
      if (typeof v !== "object" || Array.isArray(v)) {
        throw new TemplateError(`can't evaluate field ${key} in ${typeof v}`);
      }
      v = (v as Record<string, Value>)[key];
      walked.push(key);
    }
    return v;
  }

  #call(fn: string, a: Value[], root: Value): Value {
    switch (fn) {
      case "include": {
        const nodes = this.#defines.get(a[0] as string);
        if (!nodes) throw new TemplateError(`no template "${String(a[0])}"`);
        return this.#exec(nodes, a[1], new Map([["$", a[1]]]), root);
      }
      case "toYaml":
        return a[0] === undefined || a[0] === null ? "null" : stringify(a[0]).replace(/\n$/, "");
      case "nindent":
        return `\n${indent(a[0] as number, toText(a[1]))}`;
      case "indent":
        return indent(a[0] as number, toText(a[1]));
      case "quote":
        return a.map((x) => JSON.stringify(toText(x))).join(" ");
      case "default":
        return isEmpty(a[1]) ? a[0] : a[1];
      case "empty":
        return isEmpty(a[0]);
      case "eq":
        return a.slice(1).some((x) => x === a[0]);
      case "ne":
        return a[0] !== a[1];
      case "not":
        return isEmpty(a[0]);
      case "and":
        return a.find((x) => isEmpty(x)) ?? a[a.length - 1];
      case "or":
        return a.find((x) => !isEmpty(x)) ?? a[a.length - 1];
      case "printf":
        return sprintf(a[0] as string, a.slice(1));
      case "required":
        if (isEmpty(a[1])) throw new TemplateError(String(a[0]));
        return a[1];
      case "int":
        return Math.trunc(Number(a[0]));
      case "toString":
        return toText(a[0]);
      case "trunc":
        return toText(a[1]).slice(0, a[0] as number);
      case "trimSuffix": {
        const s = toText(a[1]);
        const suffix = toText(a[0]);
        return s.endsWith(suffix) ? s.slice(0, s.length - suffix.length) : s;
      }
      case "hasKey":
        return Boolean(a[0] && typeof a[0] === "object" && (a[1] as string) in a[0]);
      default:
        throw new TemplateError(`function "${fn}" is outside the supported subset`);
    }
  }
}
