// Command otelcol-spanbridge is a small OpenTelemetry Collector built from
// the official Collector modules, all pinned at one release (v0.160.0, the
// last one the module proxy serves the contrib k8sattributes processor at).
// It serves two kinds of tests:
//
//   - tests/collector_test.ts: spanbridge's OTLP/HTTP export against a real,
//     widely deployed third-party receiver (the otlpreceiver), the spans it
//     forwards compared span by span with what the traced program recorded;
//   - tests/gateway_test.ts: `validate` of the Kubernetes gateway's
//     configuration (deploy/kubernetes), and that configuration run with
//     agent traffic, which is why the batch and k8sattributes processors and
//     the OTLP/gRPC exporter are built in too, with the resource processor,
//     the health_check extension and bearertokenauth the gateway uses to
//     drop claimed identity, answer probes and refuse unknown senders, the
//     filter processor its per-tenant pipelines keep their tenant with, and
//     the load-balancing exporter and tail-sampling processor of the chart's
//     sampling tier (tests/gateway_test.ts, tests/kubernetes).
//
// Without --config its pipelines, one for traces and one for logs, are
//
//	otlp receiver (HTTP only) -> otlp_http exporter
//
// with no processor, configured by defaultConfig below from environment
// variables:
//
//	SPANBRIDGE_OTELCOL_LISTEN    host:port the OTLP/HTTP receiver listens on
//	SPANBRIDGE_OTELCOL_FORWARD   base URL spans and logs are forwarded to
//	                             (the exporter appends /v1/traces, /v1/logs)
//	SPANBRIDGE_OTELCOL_ENCODING  proto (default) or json: how they are forwarded
//
// The Collector's own telemetry stays off the network (no metrics endpoint on
// :8888), so several copies can run side by side. The usual Collector flags
// work too: --config=file:... or --config=yaml:... replaces defaultConfig.
package main

import (
	"log"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/filterprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/k8sattributesprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// defaultConfig is the Collector configuration used without --config.
const defaultConfig = `yaml:
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${env:SPANBRIDGE_OTELCOL_LISTEN}
exporters:
  otlp_http:
    endpoint: ${env:SPANBRIDGE_OTELCOL_FORWARD}
    encoding: ${env:SPANBRIDGE_OTELCOL_ENCODING:-proto}
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_http]
    logs:
      receivers: [otlp]
      exporters: [otlp_http]
`

func components() (otelcol.Factories, error) {
	var f otelcol.Factories
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(),
		filterprocessor.NewFactory(),
		k8sattributesprocessor.NewFactory(),
		resourceprocessor.NewFactory(),
		tailsamplingprocessor.NewFactory(),
	); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		loadbalancingexporter.NewFactory(),
		otlpexporter.NewFactory(),
		otlphttpexporter.NewFactory(),
	); err != nil {
		return f, err
	}
	if f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](
		bearertokenauthextension.NewFactory(),
		healthcheckextension.NewFactory(),
	); err != nil {
		return f, err
	}
	f.Telemetry = otelconftelemetry.NewFactory()
	return f, nil
}

func main() {
	settings := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol-spanbridge",
			Description: "OpenTelemetry Collector for spanbridge's end-to-end tests",
			Version:     "test",
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs: []string{defaultConfig},
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		log.Fatal(err)
	}
}
