{{/* The gateway's resource name: the release name, so the Service is what users reach. */}}
{{- define "gateway.fullname" -}}
{{- printf "%s-gateway" .Release.Name -}}
{{- end -}}

{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: aetherium-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gateway.labels" -}}
{{ include "gateway.selectorLabels" . }}
app.kubernetes.io/part-of: aetherium
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gateway.image" -}}
{{- $tag := .Values.global.imageTag | default .Chart.AppVersion -}}
{{- if .Values.global.imageRegistry -}}
{{- printf "%s/%s:%s" .Values.global.imageRegistry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}
