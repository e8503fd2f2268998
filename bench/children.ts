/**
 * Every child process the benchmark starts, so that all of them are killed
 * when it ends, also on errors and signals.
 *
 * @module
 */

const running = new Set<Deno.ChildProcess>();

/** Remembers `child` until it exits; returns it. */
export function track(child: Deno.ChildProcess): Deno.ChildProcess {
  running.add(child);
  child.status.finally(() => running.delete(child));
  return child;
}

/** Sends SIGKILL to every child still running and waits for them to exit. */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited meanwhile.
    }
  }
  await Promise.allSettled(children.map((c) => c.status));
}
