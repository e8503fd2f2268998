/**
 * Closing the probe when the controller ends: on normal exit and on SIGINT
 * and SIGTERM, so its pins (and uprobe links) do not outlive it. A
 * controller killed with SIGKILL leaves them; the next one adopts them.
 *
 * @module
 */

import type { Probe } from "./mod.ts";

const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
const signalNumbers: Partial<Record<Deno.Signal, number>> = {
  SIGINT: 2,
  SIGTERM: 15,
};

/**
 * Closes `probe` on normal exit, and on SIGINT or SIGTERM closes it and
 * exits with status 128 + the signal number. Controllers that shut down
 * more gracefully (flushing exports first) call probe.close() themselves
 * instead. Returns a function that removes the handlers.
 */
export function closeOnExit(probe: Probe): () => void {
  const onUnload = () => probe.close();
  const handlers = signals.map((sig) => {
    const handler = () => {
      probe.close();
      Deno.exit(128 + (signalNumbers[sig] ?? 0));
    };
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  globalThis.addEventListener("unload", onUnload);
  return () => {
    globalThis.removeEventListener("unload", onUnload);
    for (const [sig, handler] of handlers) {
      Deno.removeSignalListener(sig, handler);
    }
  };
}
