// Command otelcol-spanbridge is a minimal OpenTelemetry Collector built from
// the official Collector modules, for the end-to-end test
// tests/collector_test.ts. It exists so that spanbridge's OTLP/HTTP export
// is exercised against a real, widely deployed third-party receiver (the
// Collector's otlpreceiver) and so that the spans the Collector forwards
// (through its otlphttpexporter) can be compared, span by span, with what the
// traced Go program recorded.
//
// Its only pipeline is
//
//	otlp receiver (HTTP only) -> otlp_http exporter
//
// with no processor, configured by defaultConfig below from environment
// variables:
//
//	SPANBRIDGE_OTELCOL_LISTEN    host:port the OTLP/HTTP receiver listens on
//	SPANBRIDGE_OTELCOL_FORWARD   base URL the spans are forwarded to
//	                             (the exporter appends /v1/traces)
//	SPANBRIDGE_OTELCOL_ENCODING  proto (default) or json: how they are forwarded
//
// The Collector's own telemetry stays off the network (no metrics endpoint on
// :8888), so several copies can run side by side. The usual Collector flags
// work too: --config=file:... or --config=yaml:... replaces defaultConfig.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/otelcol"
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
`

func components() (otelcol.Factories, error) {
	var f otelcol.Factories
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](otlphttpexporter.NewFactory()); err != nil {
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
