/**
 * The error for "this machine lacks something the probe needs": privileges,
 * bpffs, bpftool, libbpf.so.1 or a kernel feature. The CLI ends with exit
 * code 3 for it (README.md, "Exit codes").
 *
 * @module
 */

/**
 * EnvironmentError says, in one sentence, what the machine lacks and what to
 * do about it. Nothing in the command line or the target can fix it.
 */
export class EnvironmentError extends Error {
  /** Creates the error; `message` is one line for the user. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EnvironmentError";
  }
}
