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
import { fsType } from "../ffi/mod.ts";

/** OVERLAYFS_SUPER_MAGIC from linux/magic.h: the f_type of overlayfs. */
export const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

/**
 * True when the file at `path` lies on overlayfs, by statfs(2), which
 * follows links: `/proc/<pid>/exe` answers for the file that process runs,
 * in its own mount namespace. False when it cannot be asked (the process
 * is gone).
 */
export function onOverlay(path: string): boolean {
  try {
    return fsType(path) === OVERLAYFS_SUPER_MAGIC;
  } catch {
    return false;
  }
}
