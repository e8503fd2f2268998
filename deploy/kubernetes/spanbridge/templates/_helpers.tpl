{{/* The name part of object names. */}}
{{- define "spanbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name. */}}
{{- define "spanbridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else if contains (include "spanbridge.name" .) .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "spanbridge.name" .) | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels that select one component ("agent" or "gateway"); pass (list . "agent"). */}}
{{- define "spanbridge.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "spanbridge.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Every label of a component's objects; pass (list . "agent"). */}}
{{- define "spanbridge.labels" -}}
{{ include "spanbridge.selectorLabels" . }}
app.kubernetes.io/part-of: spanbridge
app.kubernetes.io/version: {{ (index . 0).Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ (index . 0).Release.Service }}
helm.sh/chart: {{ printf "%s-%s" (index . 0).Chart.Name (index . 0).Chart.Version }}
{{- end }}

{{/* The agents' OTLP endpoint. */}}
{{- define "spanbridge.agentEndpoint" -}}
{{- if .Values.agent.otlpEndpoint }}
{{- .Values.agent.otlpEndpoint }}
{{- else if not .Values.gateway.enabled }}
{{- fail "agent.otlpEndpoint is required when gateway.enabled is false" }}
{{- else if .Values.gateway.hostNetwork }}
{{- printf "http://$(K8S_NODE_IP):%v" .Values.gateway.ports.otlpHttp }}
{{- else }}
{{- printf "http://%s-gateway.%s.svc:%v" (include "spanbridge.fullname" .) .Release.Namespace .Values.gateway.ports.otlpHttp }}
{{- end }}
{{- end }}

{{/* The agent's telemetry address: loopback on the host network, all interfaces in a pod network. */}}
{{- define "spanbridge.telemetryAddress" -}}
{{- if .Values.agent.hostNetwork }}127.0.0.1{{ else }}0.0.0.0{{ end }}:{{ .Values.agent.telemetry.port }}
{{- end }}
