/**
 * The test OpenTelemetry Collector (testing/collector): built once per pinned
 * Collector release into build/otelcol/<version>/, and run as a child
 * process whose log is kept for failure messages.
 *
 * @module
 */
import assert from "node:assert/strict";
import { root, waitUntil } from "./harness.ts";
import { TextLineStream } from "./lines.ts";
import { unusedPort } from "./receiver.ts";

/** The Collector configuration of the Kubernetes chart's gateway. */
export const gatewayConfig =
  `${root}deploy/kubernetes/spanbridge/files/gateway.yaml`;

/** What the chart merges over {@linkcode gatewayConfig} with gateway.auth.enabled. */
export const gatewayAuthConfig =
  `${root}deploy/kubernetes/spanbridge/files/gateway-auth.yaml`;

/** The Collector release testing/collector pins (its otelcol module's version). */
export function collectorVersion(): string {
  const mod = Deno.readTextFileSync(`${root}testing/collector/go.mod`);
  const version = /go\.opentelemetry\.io\/collector\/otelcol (v\S+)/.exec(mod)
    ?.[1];
  if (!version) {
    throw new Error(
      "testing/collector/go.mod does not require go.opentelemetry.io/collector/otelcol",
    );
  }
  return version;
}

/** Where the test Collector of the pinned release is built. */
export const collectorExe =
  `${root}build/otelcol/${collectorVersion()}/otelcol-spanbridge`;

let built: Promise<void> | undefined;

/**
 * Builds testing/collector unless build/otelcol/<version>/ holds a binary
 * newer than its sources (the first build compiles the Collector and the
 * k8sattributes processor with the Kubernetes client: minutes on two cores).
 */
export function buildCollector(): Promise<void> {
  built ??= (async () => {
    if (upToDate()) return;
    const { code, stdout, stderr } = await new Deno.Command("go", {
      args: ["build", "-o", collectorExe, "."],
      cwd: `${root}testing/collector`,
      stdin: "null",
    }).output();
    if (code !== 0) {
      const dec = new TextDecoder();
      throw new Error(
        `go build of the test Collector (testing/collector) failed:\n${
          dec.decode(stdout)
        }${dec.decode(stderr)}`,
      );
    }
  })();
  return built;
}

function upToDate(): boolean {
  let exe: Deno.FileInfo;
  try {
    exe = Deno.statSync(collectorExe);
  } catch {
    return false;
  }
  return ["main.go", "go.mod", "go.sum"].every((f) =>
    Deno.statSync(`${root}testing/collector/${f}`).mtime! <= exe.mtime!
  );
}

/** The test Collector as a child process. */
export class CollectorProcess {
  readonly child: Deno.ChildProcess;
  readonly log: string[] = [];
  /** host:port of its OTLP/HTTP receiver. */
  readonly listen: string;
  /** host:port of its health_check extension (the gateway's), if it has one. */
  health?: string;
  #status?: Deno.CommandStatus;
  readonly #done: Promise<unknown>;

  /**
   * Starts the Collector with `args` and `env`; `listen` is the host:port
   * its configuration makes the OTLP/HTTP receiver listen on.
   */
  constructor(listen: string, args: string[], env: Record<string, string>) {
    this.listen = listen;
    this.child = new Deno.Command(collectorExe, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child.status.then((s) => this.#status = s);
    this.#done = Promise.all(
      [this.child.stdout, this.child.stderr].map(async (stream) => {
        const lines = stream.pipeThrough(new TextDecoderStream())
          .pipeThrough(new TextLineStream());
        for await (const line of lines) this.log.push(line);
      }),
    );
  }

  /**
   * The built-in pipeline (no --config): OTLP/HTTP on 127.0.0.1:`port`,
   * forwarded to `forward` in `encoding`.
   */
  static forwarding(
    port: number,
    forward: string,
    encoding: "proto" | "json",
  ): CollectorProcess {
    const listen = `127.0.0.1:${port}`;
    return new CollectorProcess(listen, [], {
      SPANBRIDGE_OTELCOL_LISTEN: listen,
      SPANBRIDGE_OTELCOL_FORWARD: forward,
      SPANBRIDGE_OTELCOL_ENCODING: encoding,
    });
  }

  /**
   * The Kubernetes gateway's configuration
   * (deploy/kubernetes/spanbridge/files/gateway.yaml) with OTLP/HTTP on
   * 127.0.0.1:`httpPort` (gRPC and health_check on other free ports, the
   * latter in `health`), exporting to `forward`, k8sattributes in
   * pass-through (no API server here: it adds nothing). With `tokenFile`,
   * the chart's gateway-auth.yaml is merged over it: only requests bearing
   * that file's token are let in. `extra` arguments come last (more
   * --config files merged over these).
   */
  static gateway(
    httpPort: number,
    forward: string,
    tokenFile?: string,
    extra: string[] = [],
  ): CollectorProcess {
    const listen = `127.0.0.1:${httpPort}`;
    const health = `127.0.0.1:${unusedPort()}`;
    const gateway = new CollectorProcess(listen, [
      `--config=file:${gatewayConfig}`,
      ...(tokenFile ? [`--config=file:${gatewayAuthConfig}`] : []),
      "--config=yaml:processors::k8s_attributes::passthrough: true",
      // As the chart runs it: one k8s_attributes for every pipeline.
      "--feature-gates=processor.k8sattributes.ShareProcessorBetweenPipelines",
      ...extra,
    ], {
      GATEWAY_OTLP_HTTP_ENDPOINT: listen,
      GATEWAY_OTLP_GRPC_ENDPOINT: `127.0.0.1:${unusedPort()}`,
      GATEWAY_HEALTH_ENDPOINT: health,
      GATEWAY_EXPORT_ENDPOINT: forward,
      GATEWAY_TELEMETRY_LEVEL: "none",
      ...(tokenFile && {
        GATEWAY_TOKEN_FILE: tokenFile,
        // What the chart sets from the same Secret for the sampling tier.
        GATEWAY_TOKEN: Deno.readTextFileSync(tokenFile),
      }),
    });
    gateway.health = health;
    return gateway;
  }

  /**
   * Resolves once the Collector logged that its pipelines run and its
   * OTLP/HTTP receiver accepts connections; throws if it exits first.
   */
  async ready(timeoutMs: number): Promise<void> {
    const [hostname, port] = this.listen.split(":");
    const ready = async () => {
      if (this.#status) {
        throw new Error(
          `the Collector exited (${this.#status.code}) before it was ready:\n${this.dump()}`,
        );
      }
      if (!this.log.some((l) => l.includes("Everything is ready"))) {
        return false;
      }
      try {
        (await Deno.connect({ hostname, port: Number(port) })).close();
        return true;
      } catch {
        return false;
      }
    };
    await waitUntil(ready, timeoutMs, `the Collector on ${this.listen}`);
  }

  /** SIGTERM (the Collector drains its exporter queue first); resolves with its exit status. */
  async stop(): Promise<Deno.CommandStatus> {
    if (!this.#status) {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
    }
    const status = await this.child.status;
    await this.#done;
    return status;
  }

  /** Its log so far, for failure messages. */
  dump(): string {
    return this.log.join("\n");
  }

  /**
   * Stops it (whatever it still had queued is out once it stopped, so a late
   * duplicate cannot slip past a comparison after this) and asserts that it
   * exited 0 and logged no warning or error; `name` names it in the messages.
   */
  async stopAndAssertQuiet(name = "the Collector"): Promise<void> {
    assert.equal((await this.stop()).code, 0, this.dump());
    assert.ok(
      !this.log.some((l) => /\t(warn|error)\t/.test(l)),
      `${name} logged a warning or error:\n${this.dump()}`,
    );
  }
}

/**
 * The protocols an agent exports to the test Collector over, each with the
 * encoding the Collector forwards in (that of the protocol; gRPC forwards
 * protobuf).
 */
export const collectorProtocols = [
  ["http/protobuf", "proto"],
  ["http/json", "json"],
  ["grpc", "proto"],
] as const;

/**
 * A Collector that receives `protocol` on a free port and forwards spans and
 * log records to `forward` (OTLP/HTTP in `encoding`); resolves once it is
 * ready. gRPC has no built-in pipeline: its receiver is configured on the
 * command line.
 */
export async function startForwardingCollector(
  protocol: (typeof collectorProtocols)[number][0],
  encoding: "proto" | "json",
  forward: string,
): Promise<CollectorProcess> {
  const collector = protocol === "grpc"
    ? grpcForwarding(unusedPort(), forward)
    : CollectorProcess.forwarding(unusedPort(), forward, encoding);
  try {
    await collector.ready(30_000);
  } catch (e) {
    await collector.stop();
    throw e;
  }
  return collector;
}

/**
 * The Collector with an OTLP receiver for gRPC only, on 127.0.0.1:`port`,
 * forwarding spans and logs to `forward` over OTLP/HTTP (protobuf).
 */
function grpcForwarding(port: number, forward: string): CollectorProcess {
  const listen = `127.0.0.1:${port}`;
  return new CollectorProcess(listen, [
    `--config=yaml:receivers::otlp::protocols::grpc::endpoint: ${listen}`,
    `--config=yaml:exporters::otlp_http::endpoint: ${forward}`,
    "--config=yaml:service::telemetry::metrics::level: none",
    "--config=yaml:service::pipelines::traces::receivers: [otlp]",
    "--config=yaml:service::pipelines::traces::exporters: [otlp_http]",
    "--config=yaml:service::pipelines::logs::receivers: [otlp]",
    "--config=yaml:service::pipelines::logs::exporters: [otlp_http]",
  ], {});
}
