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

{{/* True (non-empty) when the agents send to this release's gateway, not to an endpoint of their own. */}}
{{- define "spanbridge.agentsUseGateway" -}}
{{- if and .Values.gateway.enabled (not .Values.agent.otlpEndpoint) (not .Values.agent.env.OTEL_EXPORTER_OTLP_ENDPOINT) }}true{{ end }}
{{- end }}

{{/* The Secret holding the gateway's bearer token (key "token"). */}}
{{- define "spanbridge.gatewayTokenSecret" -}}
{{- .Values.gateway.auth.existingSecret | default (printf "%s-gateway-token" (include "spanbridge.fullname" .)) }}
{{- end }}

{{/*
The host the gateway's health_check listens on: its OTLP listen address on
the host network (so that 127.0.0.1 keeps everything off the node's
interfaces), every interface of the pod's own network otherwise (the kubelet
probes the pod's IP).
*/}}
{{- define "spanbridge.gatewayHealthHost" -}}
{{- if .Values.gateway.hostNetwork }}{{ .Values.gateway.listenAddress }}{{ else }}0.0.0.0{{ end }}
{{- end }}

{{/* The host the kubelet probes the gateway at: empty (the pod's IP) unless the health endpoint listens on one address of the node. */}}
{{- define "spanbridge.gatewayProbeHost" -}}
{{- $host := include "spanbridge.gatewayHealthHost" . }}
{{- if not (has $host (list "0.0.0.0" "::" "[::]" "")) }}{{ $host }}{{ end }}
{{- end }}
