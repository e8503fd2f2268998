/**
 * Keeping the calling thread on one CPU, for code that must see per-CPU
 * state stay put (the probe's per-CPU record sequence in its tests).
 *
 * @module
 */

import { cLib } from "./_lib.ts";
import { lastErrno, SysError } from "./errors.ts";

// Room for 8192 CPUs, as glibc's cpu_set_t grows in steps of its word size.
const maskBytes = 1024n;

function check(call: string, rc: number): void {
  if (rc < 0) {
    throw new SysError(
      call,
      "Cannot change the thread's CPU affinity",
      lastErrno(),
    );
  }
}

/**
 * Pins the calling thread to the CPU it runs on now and returns a function
 * that restores its previous CPU mask.
 */
export function pinToCurrentCpu(): () => void {
  const libc = cLib();
  const saved = new Uint8Array(Number(maskBytes));
  check("sched_getaffinity", libc.sched_getaffinity(0, maskBytes, saved));
  const cpu = libc.sched_getcpu();
  check("sched_getcpu", cpu);
  const one = new Uint8Array(Number(maskBytes));
  one[cpu >> 3] = 1 << (cpu & 7);
  check("sched_setaffinity", libc.sched_setaffinity(0, maskBytes, one));
  return () =>
    check("sched_setaffinity", libc.sched_setaffinity(0, maskBytes, saved));
}
