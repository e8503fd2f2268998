/**
 * A traced workload for the fault tests: a private copy of the hello
 * example, a controller attached to it with its own pin root, and one
 * cleanup that kills and removes everything (also after a failure).
 *
 * @module
 */
import {
  ControllerProcess,
  copyProgram,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
} from "./harness.ts";

/** A controller tracing a private copy of hello. */
export interface TracedHello {
  /** The hello executable the controller follows. */
  exe: string;
  /** The controller's pin root. */
  pinRoot: string;
  /** The controller. */
  controller: ControllerProcess;
  /** Stops the controller if it runs and removes the copy and the pin root. */
  close(): Promise<void>;
}

/** Options of {@linkcode traceHello}. */
export interface TraceHelloOptions {
  /** Names the pin root: /sys/fs/bpf/spanbridge-test-<tag>-<pid>. */
  tag: string;
  /** The controller's environment (OTEL_*). */
  env: Record<string, string>;
  /** More `run` flags, e.g. ["--ring-size", "64K"]. */
  args?: string[];
}

/** Copies hello, starts `spanbridge run --target` on it and waits for "attached". */
export async function traceHello(
  options: TraceHelloOptions,
): Promise<TracedHello> {
  const copy = await copyProgram("hello");
  const pinRoot = testPinRoot(options.tag);
  const controller = new ControllerProcess(
    [
      "run",
      "--target",
      copy.exe,
      "--pin-root",
      pinRoot,
      "--no-status",
      ...(options.args ?? []),
    ],
    options.env,
  );
  const close = async () => {
    await stopIfRunning(controller);
    await copy.remove().catch(() => {});
    await removePinRoot(pinRoot);
  };
  try {
    await controller.waitFor("attached");
  } catch (e) {
    await close();
    throw e;
  }
  return { exe: copy.exe, pinRoot, controller, close };
}
