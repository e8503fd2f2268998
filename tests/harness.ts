/**
 * Helpers for the end-to-end tests: the eBPF gate, the controller as a child
 * process (as a user runs it), and the built example programs.
 *
 * @module
 */
import { TextLineStream } from "./lines.ts";

/** The repository root. */
export const root: string = new URL("..", import.meta.url).pathname;

/** Path of a Go program built by `deno task build` (build/bin/<name>). */
export function program(name: "hello" | "showcase" | "emitter"): string {
  return `${root}build/bin/${name}`;
}

/**
 * Whether tests that need eBPF may run. Throws a clear error when eBPF is not
 * usable here, unless SPANBRIDGE_SKIP_EBPF=1 asks to skip, in which case it
 * says so and returns false.
 */
export function ebpfAvailable(testName: string): boolean {
  if (Deno.env.get("SPANBRIDGE_SKIP_EBPF") === "1") {
    console.warn(`SKIPPED (SPANBRIDGE_SKIP_EBPF=1): ${testName} needs eBPF`);
    return false;
  }
  const problems: string[] = [];
  if (Deno.uid() !== 0) problems.push("not running as root");
  try {
    Deno.statSync("/sys/bus/event_source/devices/uprobe/type");
  } catch {
    problems.push(
      "the kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe/type)",
    );
  }
  const mounts = Deno.readTextFileSync("/proc/mounts");
  if (!/ \/sys\/fs\/bpf bpf /.test(mounts)) {
    problems.push("bpffs is not mounted at /sys/fs/bpf");
  }
  if (problems.length > 0) {
    throw new Error(
      `${testName} needs eBPF, which is not usable here: ${
        problems.join("; ")
      }. ` +
        "Run the tests as root on Linux 5.8+ with bpffs mounted (./task test mounts it), " +
        "or set SPANBRIDGE_SKIP_EBPF=1 to skip these tests explicitly.",
    );
  }
  return true;
}

/** One JSON log line of the controller. */
export type LogLine = { level: string; msg: string; [key: string]: unknown };

/** A `spanbridge` process started by a test. */
export class ControllerProcess {
  readonly child: Deno.ChildProcess;
  readonly logs: LogLine[] = [];
  readonly stdout: string[] = [];
  readonly #waiters: {
    test: (l: LogLine) => boolean;
    resolve: (l: LogLine) => void;
  }[] = [];
  readonly #done: Promise<void>;

  /**
   * Starts `spanbridge <args> --log-format json`, by default as
   * `deno run -A src/main.ts`; `command` runs another build of it (the
   * standalone binary), `cwd` sets the working directory.
   */
  constructor(
    args: string[],
    env: Record<string, string> = {},
    options: { command?: string; cwd?: string } = {},
  ) {
    const prefix = options.command ? [] : ["run", "-A", `${root}src/main.ts`];
    this.child = new Deno.Command(options.command ?? Deno.execPath(), {
      args: [...prefix, ...args, "--log-format", "json"],
      cwd: options.cwd,
      env: { OTEL_TRACES_EXPORTER: "otlp", ...env },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    this.#done = Promise.all([
      this.#read(this.child.stderr, (line) => {
        let parsed: LogLine;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = { level: "raw", msg: line };
        }
        this.logs.push(parsed);
        for (const w of [...this.#waiters]) {
          if (w.test(parsed)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(parsed);
          }
        }
      }),
      this.#read(this.child.stdout, (line) => this.stdout.push(line)),
    ]).then(() => {});
  }

  /** Resolves with the first log line (past or future) whose msg is `msg` and that passes `test`. */
  waitFor(
    msg: string,
    timeoutMs = 20_000,
    test: (l: LogLine) => boolean = () => true,
  ): Promise<LogLine> {
    const match = (l: LogLine) => l.msg === msg && test(l);
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `controller did not log "${msg}" within ${timeoutMs} ms; logs:\n${this.dump()}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        test: match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  /** Sends SIGTERM and resolves with the exit status once all output is read. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    return await this.wait();
  }

  /** Resolves with the exit status once the process exited and all output is read. */
  async wait(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#done;
    return status;
  }

  /** All log lines as text, for assertion messages. */
  dump(): string {
    return this.logs.map((l) => JSON.stringify(l)).join("\n");
  }

  async #read(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string) => void,
  ) {
    const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    );
    for await (const line of lines) onLine(line);
  }
}

/** Runs a program to completion and returns its output; throws with its stderr on failure. */
export async function runProgram(
  path: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(path, { args, env })
    .output();
  const dec = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `${path} ${args.join(" ")} exited with ${code}:\n${dec.decode(stderr)}`,
    );
  }
  return dec.decode(stdout);
}
