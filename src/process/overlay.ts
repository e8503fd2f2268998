/**
 * Whether a file lies on overlayfs, the file system of container images
 * (Podman, containerd, CRI-O, Docker).
 *
 * It matters for the probe's links: the kernel puts a uprobe on the real
 * file under the overlay (`d_real_inode`: the image layer's file, shared by
 * every container of that image), while stat through a container's path
 * gives the device of that container's own overlay mount. N containers of
 * one image are N devices but one real file; a link per device would be N
 * probes on one file, each copying every record. The real file's device is
 * not visible from user space on kernels 6.8 and later (/proc/<pid>/maps and
 * map_files show the overlay's since then), but overlayfs reports the real
 * file's inode number and times (for a copied-up file, the inode number of
 * the file it was copied from, and its own times): see `binaryKey` in
 * src/controller/attachments.ts.
 *
 * @module
 */

/** Mount namespace + device (+ path) → on overlayfs, for the files seen lately. */
const known = new Map<string, boolean>();
/** Entries remembered; containers come and go. */
const knownLimit = 1024;

/**
 * True when the file with device `dev` (as Deno's stat gives it) at `path`,
 * as process `pid` (or this process, "self") sees them, lies on overlayfs.
 * Only anonymous devices (major 0: overlayfs, tmpfs, btrfs, FUSE...) are
 * looked up, in `/proc/<pid>/mountinfo`, once per mount namespace, device
 * and path; a file on a disk answers false without a system call. False
 * when it cannot be read (the process is gone).
 */
export async function onOverlay(
  dev: number,
  pid: number | "self",
  path: string,
): Promise<boolean> {
  const { major, minor } = splitDev(dev);
  if (major !== 0) return false;
  const ns = await Deno.readLink(`/proc/${pid}/ns/mnt`).catch(() => "");
  const key = `${ns}:${dev}:${path}`;
  const hit = known.get(key);
  if (hit !== undefined && ns !== "") return hit;
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/mountinfo`);
  } catch {
    return false;
  }
  const answer = fsTypeOf(text, major, minor, path) === "overlay";
  if (ns !== "") {
    if (known.size >= knownLimit) known.clear();
    known.set(key, answer);
  }
  return answer;
}

/** The major and minor of a device number in the kernel's (glibc's) dev_t encoding. */
export function splitDev(dev: number): { major: number; minor: number } {
  const d = BigInt(dev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)),
    minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)),
  };
}

/**
 * The file system type of the mount with device `major:minor` in a
 * mountinfo text (proc(5)) or, when none has it, of the mount `path` lies
 * on (the last of the longest mount point that holds it): overlayfs with
 * layers on several file systems and without `xino` shows a lower layer's
 * file with a device of its own. Undefined when neither is found.
 */
export function fsTypeOf(
  mountinfo: string,
  major: number,
  minor: number,
  path: string,
): string | undefined {
  const want = `${major}:${minor}`;
  let under: { point: string; type: string } | undefined;
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    // Optional fields end at "-"; the type follows it.
    const dash = fields.indexOf("-", 6);
    if (dash < 0) continue;
    const type = fields[dash + 1];
    if (fields[2] === want) return type;
    const point = unescape(fields[4]);
    const holds = point === "/" || path === point ||
      path.startsWith(`${point}/`);
    if (holds && point.length >= (under?.point.length ?? 0)) {
      under = { point, type };
    }
  }
  return under?.type;
}

/** A mountinfo path with its octal escapes (space, tab, newline, backslash) undone. */
function unescape(field: string): string {
  return field.replace(
    /\\([0-7]{3})/g,
    (_, oct: string) => String.fromCharCode(parseInt(oct, 8)),
  );
}
