/**
 * VictoriaLogs, a log store people query (LogsQL over HTTP), for the
 * end-to-end test of log export into a real store: built once per pinned
 * release from the Go module proxy into build/victorialogs/<version>/ and
 * run as a child process on loopback with a data directory of its own.
 *
 * It takes OTLP/HTTP log records (protobuf only) at
 * /insert/opentelemetry/v1/logs and stores each as a row of fields: the
 * body as `_msg`, the timestamp as `_time`, `severity_number`,
 * `severity_text`, `trace_id`, `span_id`, `scope.name`, and every record and
 * resource attribute under its own key, all as text.
 *
 * @module
 */
import { root, waitUntil } from "./harness.ts";
import { TextLineStream } from "./lines.ts";
import { unusedPort } from "./receiver.ts";

/** The VictoriaLogs release the tests pin (the newest the module proxy serves that builds with this Go). */
export const victoriaLogsVersion = "v1.52.2";

const pkg = "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs";
const dir = `${root}build/victorialogs/${victoriaLogsVersion}`;

/** Where the pinned release is built. */
export const victoriaLogsExe = `${dir}/victoria-logs`;

/**
 * Builds VictoriaLogs unless build/victorialogs/<version>/ has it (the first
 * build compiles it from the module cache or the Go module proxy: about a
 * minute on two cores).
 */
export async function buildVictoriaLogs(): Promise<void> {
  try {
    await Deno.stat(victoriaLogsExe);
    return;
  } catch {
    // Not built yet.
  }
  const { code, stdout, stderr } = await new Deno.Command("go", {
    args: ["install", `${pkg}@${victoriaLogsVersion}`],
    env: { GOBIN: dir },
    stdin: "null",
  }).output();
  if (code !== 0) {
    const dec = new TextDecoder();
    throw new Error(
      `go install ${pkg}@${victoriaLogsVersion} failed:\n${dec.decode(stdout)}${
        dec.decode(stderr)
      }`,
    );
  }
}

/** One stored log row as LogsQL returns it: field name → text. */
export type LogRow = Record<string, string>;

/** VictoriaLogs as a child process on 127.0.0.1, its data in a temporary directory. */
export class VictoriaLogsProcess {
  readonly child: Deno.ChildProcess;
  readonly log: string[] = [];
  /** Its base URL, e.g. http://127.0.0.1:9428. */
  readonly url: string;
  /** Where OTLP/HTTP log exporters send (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT). */
  readonly otlpLogsEndpoint: string;
  readonly #dataDir: string;
  readonly #done: Promise<unknown>;

  private constructor(dataDir: string) {
    this.#dataDir = dataDir;
    const listen = `127.0.0.1:${unusedPort()}`;
    this.url = `http://${listen}`;
    this.otlpLogsEndpoint = `${this.url}/insert/opentelemetry/v1/logs`;
    this.child = new Deno.Command(victoriaLogsExe, {
      args: [
        `-storageDataPath=${dataDir}`,
        `-httpListenAddr=${listen}`,
        // Keep no data past the test and spare the disk check a full disk
        // would fail on.
        "-retentionPeriod=1d",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = Promise.all(
      [this.child.stdout, this.child.stderr].map(async (stream) => {
        const lines = stream.pipeThrough(new TextDecoderStream())
          .pipeThrough(new TextLineStream());
        for await (const line of lines) this.log.push(line);
      }),
    );
  }

  /** Starts VictoriaLogs on a free loopback port; resolves once /health answers. */
  static async start(): Promise<VictoriaLogsProcess> {
    const dataDir = await Deno.makeTempDir({ prefix: "spanbridge-vlogs-" });
    const vl = new VictoriaLogsProcess(dataDir);
    try {
      await waitUntil(
        async () => {
          try {
            return (await fetch(`${vl.url}/health`).then((r) => r.text())) ===
              "OK";
          } catch {
            return false;
          }
        },
        30_000,
        `VictoriaLogs on ${vl.url}`,
      );
    } catch (e) {
      await vl.stop();
      throw new Error(`${(e as Error).message}:\n${vl.dump()}`);
    }
    return vl;
  }

  /**
   * Runs a LogsQL `query` (as a person would type it) over everything stored,
   * after making what was just ingested searchable; returns the rows.
   */
  async query(query: string): Promise<LogRow[]> {
    const flushed = await fetch(`${this.url}/internal/force_flush`);
    await flushed.body?.cancel();
    const response = await fetch(`${this.url}/select/logsql/query`, {
      method: "POST",
      body: new URLSearchParams({ query }),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(
        `VictoriaLogs refused the LogsQL query ${query}: ${response.status} ${text}`,
      );
    }
    return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  }

  /** Stops it and removes its data. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#done;
    await Deno.remove(this.#dataDir, { recursive: true });
  }

  /** Its log so far, for failure messages. */
  dump(): string {
    return this.log.join("\n");
  }
}
