import { describe, expect, it } from "vitest";
import { ChartTemplates } from "./go-template.js";

const render = (src: string, values: Record<string, unknown>, partials = "") => {
  const t = new ChartTemplates();
  if (partials) t.add("templates/_helpers.tpl", partials);
  t.add("templates/x.yaml", src);
  return t
    .render({ Values: values, Release: { Name: "r", Namespace: "n" }, Chart: { AppVersion: "9" } })
    .get("templates/x.yaml");
};

describe("the chart template subset", () => {
  it("trims whitespace on the dashed side only, as Go does", () => {
    expect(render("a:\n  {{- if .Values.on }}\n  b: 1\n  {{- end }}\nc", { on: true })).toBe(
      "a:\n  b: 1\nc",
    );
    expect(render("x {{ .Values.v -}}   \n  y", { v: "v" })).toBe("x vy");
  });

  it("tests emptiness like Go: 0, empty string, empty map and list are false", () => {
    const src = "{{ if .Values.v }}yes{{ else }}no{{ end }}";
    for (const v of [0, "", {}, [], false, null]) expect(render(src, { v })).toBe("no");
    for (const v of [1, "a", { a: 1 }, [0], true]) expect(render(src, { v })).toBe("yes");
    expect(
      render('{{ if eq .Values.k "A" }}a{{ else if eq .Values.k "B" }}b{{ else }}c{{ end }}', {
        k: "B",
      }),
    ).toBe("b");
  });

  it("pipes the value as the last argument: default, quote, printf, nindent, toYaml", () => {
    expect(render("{{ .Values.tag | default .Chart.AppVersion | quote }}", { tag: "" })).toBe(
      '"9"',
    );
    expect(render('{{ printf "%s-%v" .Release.Name .Values.n }}', { n: 8080 })).toBe("r-8080");
    expect(render("m:{{ toYaml .Values.m | nindent 2 }}", { m: { b: 1, a: [1, 2] } })).toBe(
      "m:\n  b: 1\n  a:\n    - 1\n    - 2",
    );
    expect(render('{{ .Values.x | default (printf "%s-w" .Release.Name) }}', {})).toBe("r-w");
  });

  it("ranges over maps in key order with $k, $v, and reaches the root through $", () => {
    expect(
      render("{{ range $k, $v := .Values.env }}{{ $k }}={{ $v }}@{{ $.Release.Name }};{{ end }}", {
        env: { B: "2", A: "1" },
      }),
    ).toBe("A=1@r;B=2@r;");
    expect(render("{{ with .Values.s }}{{ .name }}{{ end }}", { s: { name: "in" } })).toBe("in");
  });

  it("includes defines with their own dot and keeps variables in their block", () => {
    const partials =
      '{{- define "n" -}}{{- $t := .Values.t | default "d" -}}{{ $t }}-{{ .Release.Name }}{{- end -}}';
    expect(render('{{ include "n" . | quote }}', { t: "" }, partials)).toBe('"d-r"');
  });

  it("fails on a field of a missing value, an unknown function and an unknown template", () => {
    expect(() => render("{{ .Values.a.b }}", {})).toThrow(/nil pointer evaluating \.Values\.a\.b/);
    expect(render("[{{ .Values.missing }}]", {})).toBe("[]");
    expect(() => render("{{ .Values.a | b64enc }}", { a: "x" })).toThrow(
      /b64enc.*outside the supported subset/,
    );
    expect(() => render('{{ include "nope" . }}', {})).toThrow(/no template "nope"/);
    expect(() => render("{{ if .Values.a }}x", { a: 1 })).toThrow(/missing \{\{end\}\}/);
  });
});
