/**
 * Where a process's resident memory is, from /proc/<pid>/status and
 * /proc/<pid>/smaps: anonymous pages, file pages, and the pages of the BPF
 * ring buffer's mapping (an anon_inode:bpf-map mapping: file pages to
 * /proc; the reader maps each data page once).
 *
 * @module
 */

/** Resident memory of a process, MiB. */
export interface MemoryDetail {
  /** VmRSS: all resident pages. */
  rss: number;
  /** VmHWM: the peak of VmRSS. */
  hwm: number;
  /** RssAnon: anonymous pages (V8 heap, ArrayBuffers, malloc). */
  anon: number;
  /** RssFile: file pages, the ring's mapping included. */
  file: number;
  /** RssShmem: shared memory pages. */
  shmem: number;
  /** Resident pages of BPF map mappings (the ring's data and its two position pages). */
  bpfMaps: number;
  /** Resident pages of the process's own executable file. */
  exe: number;
}

function statusKiB(status: string, name: string, pid: number): number {
  const m = status.match(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m"));
  if (!m) {
    throw new Error(
      `Cannot read ${name} of process ${pid}: not in /proc/${pid}/status.`,
    );
  }
  return Number(m[1]);
}

/** Reads the resident memory of `pid` and where it is. */
export function memoryDetail(pid: number): MemoryDetail {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const exe = Deno.readLinkSync(`/proc/${pid}/exe`);
  let bpfMaps = 0;
  let exeKiB = 0;
  let mapping = "";
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (head) {
      mapping = head[1];
      continue;
    }
    const rss = line.match(/^Rss:\s+(\d+) kB$/);
    if (!rss) continue;
    if (mapping === "anon_inode:bpf-map") bpfMaps += Number(rss[1]);
    else if (mapping === exe) exeKiB += Number(rss[1]);
  }
  const mib = (kib: number) => kib / 1024;
  return {
    rss: mib(statusKiB(status, "VmRSS", pid)),
    hwm: mib(statusKiB(status, "VmHWM", pid)),
    anon: mib(statusKiB(status, "RssAnon", pid)),
    file: mib(statusKiB(status, "RssFile", pid)),
    shmem: mib(statusKiB(status, "RssShmem", pid)),
    bpfMaps: mib(bpfMaps),
    exe: mib(exeKiB),
  };
}
