{{- define "manager.fullname" -}}
{{- printf "%s-k8s-manager" .Release.Name -}}
{{- end -}}

{{- define "manager.selectorLabels" -}}
app.kubernetes.io/name: aetherium-k8s-manager
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "manager.labels" -}}
{{ include "manager.selectorLabels" . }}
app.kubernetes.io/part-of: aetherium
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "manager.image" -}}
{{- $tag := .Values.global.imageTag | default .Chart.AppVersion -}}
{{- if .Values.global.imageRegistry -}}
{{- printf "%s/%s:%s" .Values.global.imageRegistry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "manager.workerName" -}}
{{- .Values.workers.name | default (printf "%s-worker" .Release.Name) -}}
{{- end -}}
