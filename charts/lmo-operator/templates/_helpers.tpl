{{/* The chart name, or nameOverride. */}}
{{- define "lmo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name: fullnameOverride, else the release name when it already contains the
chart name, else release-chart. Truncated so that the longest suffix still fits 63 characters.
*/}}
{{- define "lmo-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The manager's ServiceAccount and Deployment name. */}}
{{- define "lmo-operator.managerName" -}}
{{ include "lmo-operator.fullname" . }}-controller-manager
{{- end }}

{{/*
The name of the leader-election Lease: leaderElection.id, else one per release, so that two releases in
one namespace elect a leader each. The default release (fullname lmo-operator) keeps the manager's own
default, lmo-operator.lmo-operator.dev, so upgrading it does not elect a second leader.
*/}}
{{- define "lmo-operator.leaderElectionID" -}}
{{ .Values.leaderElection.id | default (printf "%s.lmo-operator.dev" (include "lmo-operator.fullname" .)) }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "lmo-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "lmo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the manager's Pods. */}}
{{- define "lmo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lmo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/* The manager image. */}}
{{- define "lmo-operator.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The service port name of the metrics endpoint. */}}
{{- define "lmo-operator.metricsPortName" -}}
{{ ternary "https" "http" .Values.metrics.secure }}
{{- end }}
