/**
 * The controller process harness of the end-to-end tests, the soaks and the
 * benchmarks: the controller as a child process (as a user runs it), the
 * built example programs, and the waits the tests share (with the eBPF
 * gate's helpers re-exported from ./ebpf.ts).
 *
 * @module
 */
import { TextLineStream } from "./lines.ts";

export { ebpfAvailable, removePinRoot, testPinRoot } from "./ebpf.ts";

/** The repository root. */
export const root: string = new URL("..", import.meta.url).pathname;

/** Path of a Go program built by `deno task build` (build/bin/<name>). */
export function program(name: "hello" | "showcase" | "emitter"): string {
  return `${root}build/bin/${name}`;
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

  /** The controller's process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** True once the controller logged its final `stopped` line. */
  get stopped(): boolean {
    return this.logs.some((l) => l.msg === "stopped");
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

/**
 * Waits until `test()` holds, checking every 50 ms; throws naming `what`
 * after `timeoutMs`. Tests wait on conditions, never on fixed sleeps.
 */
export async function waitUntil(
  test: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until `receiver` holds at least `count` spans. On a timeout the error
 * says how many arrived and carries the logs of `processes` (a name for each:
 * controller, Collector...), so a failure shows why.
 */
export async function waitForSpans(
  receiver: { spans: unknown[] },
  count: number,
  timeoutMs: number,
  what: string,
  processes: Record<string, { dump(): string } | undefined> = {},
): Promise<void> {
  await waitUntil(() => receiver.spans.length >= count, timeoutMs, what)
    .catch((err) => {
      const logs = Object.entries(processes)
        .map(([name, p]) => `\n${name}:\n${p?.dump() ?? "(not started)"}`);
      throw new Error(
        `${err.message} (have ${receiver.spans.length})${logs.join("")}`,
      );
    });
}

/** Resolves after `ms` milliseconds (to pace a producer, never as an assertion). */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A private copy of a built program in a new temporary directory: the test
 * attaches to a file no concurrent rebuild of build/bin replaces.
 */
export async function copyProgram(
  name: "hello" | "showcase" | "emitter",
): Promise<{ exe: string; dir: string; remove(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: `spanbridge-${name}-` });
  const exe = `${dir}/${name}`;
  await Deno.copyFile(program(name), exe);
  await Deno.chmod(exe, 0o755);
  return {
    exe,
    dir,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/**
 * Starts `spanbridge run --target exe` as `instance` with its pins under
 * `pinRoot`, without the status line, in `env` (OTEL_*).
 */
export function traceTarget(
  exe: string,
  pinRoot: string,
  instance: string,
  env: Record<string, string>,
): ControllerProcess {
  return new ControllerProcess(
    ["run", "--target", exe, ...quietAs(pinRoot, instance)],
    env,
  );
}

/**
 * The arguments of `spanbridge run --all` limited to the executables
 * `includeExe` matches, as `instance` with its pins under `pinRoot`,
 * without the status line (for a controller or the agent image).
 */
export function runAllArgs(
  includeExe: string,
  pinRoot: string,
  instance: string,
): string[] {
  return [
    "run",
    "--all",
    "--include-exe",
    includeExe,
    ...quietAs(pinRoot, instance),
  ];
}

/** A test controller's pin root and instance, without the status line. */
function quietAs(pinRoot: string, instance: string): string[] {
  return ["--pin-root", pinRoot, "--instance", instance, "--no-status"];
}

/** Stops the controller unless it already logged `stopped` (for `finally` blocks). */
export async function stopIfRunning(c: ControllerProcess): Promise<void> {
  if (c.stopped) return;
  try {
    c.child.kill("SIGCONT");
  } catch {
    // Already exited.
  }
  await c.stop();
}

/** Number of open file descriptors of process `pid`. */
export function fdCount(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/** Resident memory of process `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

/** The outcome of one `spanbridge` run to completion. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `spanbridge <args>` to completion with `env` added, optionally under
 * a wrapper command (`wrap`, e.g. setpriv or unshare).
 */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; wrap?: string[] } = {},
): Promise<CliResult> {
  const command = [
    ...(options.wrap ?? []),
    Deno.execPath(),
    "run",
    "-A",
    `${root}src/main.ts`,
    ...args,
  ];
  const { code, stdout, stderr } = await new Deno.Command(command[0], {
    args: command.slice(1),
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}
