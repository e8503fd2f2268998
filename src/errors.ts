/**
 * The four kinds of failure spanbridge tells apart, defined once at the
 * bottom of the import graph so every layer can throw them and src/cli can
 * map each to one exit code (README.md, "Exit codes"):
 *
 * - `usage`: a bad flag, value or OTEL_* setting; the user fixes the command.
 * - `target`: the target binary or process cannot be traced as asked.
 * - `environment`: the machine lacks a privilege, a tool or kernel support.
 * - `runtime`: anything else that failed while running.
 *
 * @module
 */

/** One of the four kinds of failure. */
export type ErrorCategory = "usage" | "target" | "environment" | "runtime";

/** An error whose message is one sentence for the user, with its category. */
export class CategorizedError extends Error {
  /** What kind of failure this is. */
  readonly category: ErrorCategory;

  /** Creates an error of `category`; `message` is one line for the user. */
  constructor(
    category: ErrorCategory,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "CategorizedError";
    this.category = category;
  }
}

/** A bad flag, value or OTEL_* setting: the user fixes the command line or environment. */
export class UsageError extends CategorizedError {
  /** Creates the error; `message` names the setting and what is expected. */
  constructor(message: string, options?: ErrorOptions) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/**
 * The machine lacks something spanbridge needs: privileges, bpffs, bpftool,
 * libbpf.so.1 or a kernel feature. Nothing in the command line or the target
 * can fix it.
 */
export class EnvironmentError extends CategorizedError {
  /** Creates the error; `message` says what is missing and what to do. */
  constructor(message: string, options?: ErrorOptions) {
    super("environment", message, options);
    this.name = "EnvironmentError";
  }
}

/** The category of any thrown value: its own, or "runtime" for other errors. */
export function categoryOf(err: unknown): ErrorCategory {
  return err instanceof CategorizedError ? err.category : "runtime";
}
