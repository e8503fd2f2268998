{{/*
Routing per tenant (gateway.routing) and the tail-sampling tier
(gateway.sampling), as Collector configuration built from dicts and
rendered with toYaml (an empty key could otherwise wipe a map of the base
configuration when the Collector merges the files).

Routing uses only components of the Collector release the chart pins
(v0.160.0, which has no routing connector on the Go module proxy, nor a
forward connector): every tenant has a pipeline of its own on the shared
otlp receiver, which hands each pipeline its own copy, and that pipeline's
filter processor drops what is not its tenant's. The unrouted pipeline
drops what is some tenant's.
*/}}

{{/* True (non-empty) when gateway.routing.tenants or gateway.sampling change the traces and logs pipelines. */}}
{{- define "spanbridge.routed" -}}
{{- if or .Values.gateway.routing.tenants .Values.gateway.sampling.enabled }}true{{ end }}
{{- end }}

{{/* The OTTL condition true for a resource of tenant $t; pass (list $t $labelKey). */}}
{{- define "spanbridge.tenantMatch" -}}
{{- $t := index . 0 }}
{{- $label := index . 1 }}
{{- $terms := list }}
{{- range $t.namespaces }}
{{- $terms = append $terms (printf "resource.attributes[\"k8s.namespace.name\"] == %s" (quote .)) }}
{{- end }}
{{- range $t.labelValues }}
{{- if not $label }}
{{- fail (printf "gateway.routing.tenants %s: labelValues need gateway.routing.tenantLabel" $t.name) }}
{{- end }}
{{- $terms = append $terms (printf "resource.attributes[%s] == %s" (quote (printf "k8s.pod.label.%s" $label)) (quote .)) }}
{{- end }}
{{- if not $terms }}
{{- fail (printf "gateway.routing.tenants %s: give namespaces or labelValues" $t.name) }}
{{- end }}
{{- join " or " $terms }}
{{- end }}

{{/*
Adds the pipelines of every tenant, and the unrouted one exporting to
otlp_http, for each signal of "signals" (traces, logs) to the dicts it is
given; pass (dict "root" $ "processors" P "exporters" E "pipelines" S
"signals" [..] "before" [..] "after" [..]): each pipeline runs before, its
filter (one per tenant, with a condition for each signal), then after.
*/}}
{{- define "spanbridge.tenantPipelines" -}}
{{- $v := .root.Values.gateway.routing }}
{{- $any := list }}
{{- range $v.tenants }}
{{- if not (regexMatch "^[a-z0-9_-]+$" (toString .name)) }}
{{- fail (printf "gateway.routing.tenants: name %q must be lower-case letters, digits, \"-\" or \"_\"" (toString .name)) }}
{{- end }}
{{- $match := include "spanbridge.tenantMatch" (list . $v.tenantLabel) }}
{{- $any = append $any (printf "(%s)" $match) }}
{{- $filter := printf "filter/%s" .name }}
{{- $drop := list (printf "not (%s)" $match) }}
{{- $_ := set $.processors $filter (dict "trace_conditions" $drop "log_conditions" $drop) }}
{{- $protocol := .protocol | default "http" }}
{{- $exporter := dict "endpoint" (required (printf "gateway.routing.tenants %s: endpoint is required" .name) .endpoint) }}
{{- with .headers }}{{ $_ := set $exporter "headers" . }}{{ end }}
{{- $name := "" }}
{{- if eq $protocol "http" }}
{{- $name = printf "otlp_http/%s" .name }}
{{- else if eq $protocol "grpc" }}
{{- $name = printf "otlp_grpc/%s" .name }}
{{- if .insecure }}{{ $_ := set $exporter "tls" (dict "insecure" true) }}{{ end }}
{{- else }}
{{- fail (printf "gateway.routing.tenants %s: protocol %q is neither http nor grpc" .name $protocol) }}
{{- end }}
{{- $_ := set $.exporters $name $exporter }}
{{- $tenant := . }}
{{- range $.signals }}
{{- $_ := set $.pipelines (printf "%s/%s" . $tenant.name) (dict "receivers" (list "otlp") "processors" (concat $.before (list $filter) $.after) "exporters" (list $name)) }}
{{- end }}
{{- end }}
{{- $unrouted := $.before }}
{{- if $any }}
{{- $drop := list (join " or " $any) }}
{{- $_ := set $.processors "filter/unrouted" (dict "trace_conditions" $drop "log_conditions" $drop) }}
{{- $unrouted = append $unrouted "filter/unrouted" }}
{{- end }}
{{- range $.signals }}
{{- $_ := set $.pipelines . (dict "receivers" (list "otlp") "processors" (concat $unrouted $.after) "exporters" (list "otlp_http")) }}
{{- end }}
{{- end }}

{{/* The sampling tier's headless Service name. */}}
{{- define "spanbridge.samplerName" -}}
{{- include "spanbridge.fullname" . }}-sampler
{{- end }}

{{/*
gateway-routing.yaml, merged over gateway.yaml: the tenants' traces and
logs pipelines, or with gateway.sampling one traces pipeline ending in the
load_balancing exporter (by trace id, to the sampling tier's pods as the
API server lists them behind its headless Service) and the tenants' logs
pipelines.
*/}}
{{- define "spanbridge.gatewayRouting" -}}
{{- $v := .Values.gateway }}
{{- $processors := dict }}
{{- $exporters := dict }}
{{- $pipelines := dict }}
{{- with $v.routing.tenantLabel }}
{{- $label := dict "tag_name" (printf "k8s.pod.label.%s" .) "key" . "from" "pod" }}
{{- $_ := set $processors "k8s_attributes" (dict "extract" (dict "labels" (list $label))) }}
{{- end }}
{{- if $v.sampling.enabled }}
{{- $otlp := dict "tls" (dict "insecure" true) }}
{{- if $v.auth.enabled }}
{{- /* Plain metadata, not the bearertokenauth client: that one insists on TLS. */}}
{{- $_ := set $otlp "headers" (dict "authorization" "Bearer ${env:GATEWAY_TOKEN}") }}
{{- end }}
{{- $k8s := dict "service" (printf "%s.%s" (include "spanbridge.samplerName" .) .Release.Namespace) "ports" (list $v.sampling.port) }}
{{- $_ := set $exporters "load_balancing" (dict "routing_key" "traceID" "protocol" (dict "otlp" $otlp) "resolver" (dict "k8s" $k8s)) }}
{{- $_ := set $pipelines "traces" (dict "receivers" (list "otlp") "processors" (list "resource/claims" "k8s_attributes" "batch") "exporters" (list "load_balancing")) }}
{{- /* Log records are not sampled: the gateway routes them itself. */}}
{{- include "spanbridge.tenantPipelines" (dict "root" . "processors" $processors "exporters" $exporters "pipelines" $pipelines "signals" (list "logs") "before" (list "resource/claims" "k8s_attributes") "after" (list "batch")) }}
{{- else }}
{{- include "spanbridge.tenantPipelines" (dict "root" . "processors" $processors "exporters" $exporters "pipelines" $pipelines "signals" (list "traces" "logs") "before" (list "resource/claims" "k8s_attributes") "after" (list "batch")) }}
{{- end }}
{{- $config := dict "service" (dict "pipelines" $pipelines) }}
{{- with $processors }}{{ $_ := set $config "processors" . }}{{ end }}
{{- with $exporters }}{{ $_ := set $config "exporters" . }}{{ end }}
{{- toYaml $config }}
{{- end }}

{{/*
sampler.yaml, the whole configuration of the tail-sampling tier: OTLP/gRPC
in (with the agents' bearer token when gateway.auth is on), each tenant's
traces filtered first so that a tail_sampling instance holds only its
share, then decided, batched and exported.
*/}}
{{- define "spanbridge.samplerConfig" -}}
{{- $v := .Values.gateway }}
{{- $s := $v.sampling }}
{{- $policies := list }}
{{- if $s.keepErrors }}
{{- $policies = append $policies (dict "name" "errors" "type" "status_code" "status_code" (dict "status_codes" (list "ERROR"))) }}
{{- end }}
{{- if gt (int64 $s.latencyThresholdMs) 0 }}
{{- $policies = append $policies (dict "name" "slow" "type" "latency" "latency" (dict "threshold_ms" (int64 $s.latencyThresholdMs))) }}
{{- end }}
{{- if gt (float64 $s.percentage) 0.0 }}
{{- $policies = append $policies (dict "name" "ratio" "type" "probabilistic" "probabilistic" (dict "sampling_percentage" (float64 $s.percentage))) }}
{{- end }}
{{- if not $policies }}
{{- fail "gateway.sampling keeps nothing: set keepErrors, latencyThresholdMs or percentage" }}
{{- end }}
{{- $processors := dict
  "tail_sampling" (dict "decision_wait" $s.decisionWait "num_traces" (int64 $s.numTraces) "policies" $policies)
  "batch" (dict "send_batch_size" 8192 "send_batch_max_size" 16384 "timeout" "200ms") }}
{{- $exporters := dict "otlp_http" (dict "endpoint" (required "gateway.exportEndpoint is required" $v.exportEndpoint)) }}
{{- $pipelines := dict }}
{{- include "spanbridge.tenantPipelines" (dict "root" . "processors" $processors "exporters" $exporters "pipelines" $pipelines "signals" (list "traces") "before" (list) "after" (list "tail_sampling" "batch")) }}
{{- $grpc := dict "endpoint" (printf "0.0.0.0:%v" $s.port) }}
{{- $extensions := dict "health_check" (dict "endpoint" (printf "0.0.0.0:%v" $s.healthPort)) }}
{{- $active := list "health_check" }}
{{- if $v.auth.enabled }}
{{- $_ := set $grpc "auth" (dict "authenticator" "bearertokenauth") }}
{{- $_ := set $extensions "bearertokenauth" (dict "filename" "/auth/token") }}
{{- $active = append $active "bearertokenauth" }}
{{- end }}
{{- $metrics := dict "level" $s.telemetryLevel }}
{{- if ne $s.telemetryLevel "none" }}
{{- $prometheus := dict "host" "0.0.0.0" "port" (int64 $s.metricsPort) }}
{{- $_ := set $metrics "readers" (list (dict "pull" (dict "exporter" (dict "prometheus" $prometheus)))) }}
{{- end }}
{{- $service := dict "extensions" $active "telemetry" (dict "metrics" $metrics) "pipelines" $pipelines }}
{{- toYaml (dict "extensions" $extensions "receivers" (dict "otlp" (dict "protocols" (dict "grpc" $grpc))) "processors" $processors "exporters" $exporters "service" $service) }}
{{- end }}
