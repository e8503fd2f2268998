/**
 * The one error type of src/process, so callers can tell a bad target from a
 * bug and map each kind to an exit code or a hint.
 *
 * @module
 */

import { CategorizedError } from "../errors.ts";

/** What went wrong while resolving a target binary or a process. */
export type TargetErrorKind =
  /** The file or process does not exist. */
  | "not-found"
  /** The file or process exists but may not be read by this user. */
  | "access-denied"
  /** The file is not an ELF executable. */
  | "not-elf"
  /** An ELF file of a class, byte order or machine spanbridge cannot probe. */
  | "unsupported"
  /** An ELF file without Go's runtime tables. */
  | "not-go"
  /** A Go binary without spanbridge's SDK. */
  | "no-probe-point"
  /** The probe point was found but its code is not what the SDK emits. */
  | "bad-probe-point"
  /** A Go binary whose tables could not be read (damaged or an unknown layout). */
  | "unreadable"
  /** A file whose headers claim a table larger than spanbridge reads (crafted or damaged). */
  | "too-large";

/**
 * TargetError is thrown by every function of src/process for problems with
 * the target itself (as opposed to bugs). Its message is a full sentence
 * naming the file or process and what to do.
 */
export class TargetError extends CategorizedError {
  /** The kind of problem, for exit codes and tests. */
  readonly kind: TargetErrorKind;

  /** Creates a TargetError; `cause` keeps the underlying system error. */
  constructor(kind: TargetErrorKind, message: string, options?: ErrorOptions) {
    super("target", message, options);
    this.name = "TargetError";
    this.kind = kind;
  }
}
