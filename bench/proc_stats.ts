/**
 * CPU time and memory of a process, from /proc.
 *
 * @module
 */

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux ABI we run on (x86_64, arm64). */
const clockTicks = 100;

/** User plus system CPU seconds `pid` has used so far (its threads included). */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces; fields after it are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Resident memory of `pid` now and at its peak, in MiB. */
export interface Memory {
  /** VmRSS. */
  rssMiB: number;
  /** VmHWM: the peak resident set. */
  peakMiB: number;
}

/** Reads VmRSS and VmHWM of `pid`. */
export function memory(pid: number): Memory {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (name: string) => {
    const m = status.match(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m"));
    if (!m) {
      throw new Error(
        `Cannot read ${name} of process ${pid}: not in /proc/${pid}/status.`,
      );
    }
    return Number(m[1]);
  };
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}
