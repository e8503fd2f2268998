/**
 * The agent's health and self-metrics: an opt-in HTTP listener with
 * liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics
 * (`/metrics`), and an optional OTLP push of the same metrics. The
 * OpenTelemetry metrics SDK behind them is loaded only when the listener is
 * asked for: an agent without it does not carry its modules.
 *
 * ```ts ignore
 * const telemetry = await Telemetry.start(config, log);
 * const sink = createSink(exportConfig, {
 *   log,
 *   exporter: telemetry.exports.wrap(exporter, "traces", "otlp_http_span_exporter"),
 * });
 * telemetry.attach(controller); // once the probe is loaded and attached
 * await telemetry.close();
 * ```
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { redactUrl } from "../redact.ts";
import { version } from "../version.ts";
import type { TelemetryConfig } from "./config.ts";
import { ExportWatch } from "./export_watch.ts";
import type { AgentMetrics } from "./metrics.ts";
import { type AgentSource, readiness, RingWatch } from "./readiness.ts";
import { serveTelemetry, type TelemetryServer } from "./server.ts";

export * from "./config.ts";
export type { ExportCall, ExportHealth } from "./export_watch.ts";
export { ExportWatch } from "./export_watch.ts";
export type { AgentSource, Check, Readiness } from "./readiness.ts";

/** The running telemetry of one agent. */
export class Telemetry {
  /** Wrap each signal's exporter with this to feed readiness and export latency. */
  readonly exports: ExportWatch;
  /** Where the listener listens (the real port when 0 was asked for). */
  readonly address: Deno.NetAddr;
  readonly #metrics: AgentMetrics;
  readonly #server: TelemetryServer;
  #source: AgentSource | undefined;

  private constructor(
    config: TelemetryConfig,
    metrics: AgentMetrics,
    log: Logger,
  ) {
    this.#metrics = metrics;
    this.exports = new ExportWatch((call) => this.#metrics.recordExport(call));
    const ring = new RingWatch();
    try {
      this.#server = serveTelemetry(config.listen, {
        readiness: () =>
          readiness(
            this.#source,
            ring,
            this.exports,
            config.exportFailingMs,
            Date.now(),
          ),
        metrics: () => this.#metrics.prometheus(),
      }, log);
    } catch (err) {
      void this.#metrics.shutdown();
      throw new UsageError(
        `Cannot listen for telemetry on ${config.listen.hostname}:${config.listen.port}: ${
          (err as Error).message
        }. Pick another address with --telemetry or SPANBRIDGE_TELEMETRY.`,
      );
    }
    this.address = this.#server.addr;
  }

  /** Starts the listener (and the OTLP push when configured); logs where it listens. */
  static async start(
    config: TelemetryConfig,
    log: Logger,
  ): Promise<Telemetry> {
    const node = config.nodeName;
    const { AgentMetrics } = await import("./metrics.ts");
    // Collections happen only once the listener serves, after `telemetry` is set.
    const metrics = await AgentMetrics.create({
      stats: () => telemetry.#source?.stats(),
      resource: {
        "service.name": "spanbridge",
        "service.version": version,
        "host.name": node || Deno.hostname(),
        ...(node ? { "k8s.node.name": node } : {}),
      },
      ...(config.otlp && { otlp: config.otlp }),
    });
    const telemetry = new Telemetry(config, metrics, log);
    const { hostname, port } = telemetry.address;
    log.info("telemetry listening", {
      address: `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
      otlpMetrics: config.otlp ? redactUrl(config.otlp.transport.url) : false,
    });
    return telemetry;
  }

  /** From now on readiness and metrics read `source` (the started controller). */
  attach(source: AgentSource): void {
    this.#source = source;
  }

  /** Stops the listener and pushes the metrics a last time (OTLP). */
  async close(): Promise<void> {
    await this.#server.shutdown();
    await this.#metrics.shutdown();
  }
}
