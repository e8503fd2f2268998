/**
 * The shape every `spanbridge` subcommand has, so src/main.ts can dispatch
 * to it and print its help.
 *
 * @module
 */

import { categoryOf, type ErrorCategory } from "../errors.ts";

/** A subcommand of the `spanbridge` CLI. */
export interface Command {
  /** The word that selects it: `spanbridge <name>`. */
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  main(args: string[]): Promise<number>;
}

/** Exit codes shared by all commands (documented in README.md and `run --help`). */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** A runtime failure: the probe, the target or the exporter failed. */
  failure: 1,
  /** Bad usage: unknown flag, bad value, invalid OTEL_* variable, a target that cannot be traced. */
  usage: 2,
  /** The environment lacks something: privileges, bpffs, bpftool, libbpf, kernel support. */
  environment: 3,
  /** Stopped as asked, but spans were dropped on the way out (queue full, refused, undeliverable). */
  dropped: 4,
} as const;

const exitCodes: Record<ErrorCategory, number> = {
  usage: ExitCode.usage,
  target: ExitCode.usage,
  environment: ExitCode.environment,
  runtime: ExitCode.failure,
};

/** The one mapping from an error's category to the exit code the CLI ends with. */
export function exitCodeOf(err: unknown): number {
  return exitCodes[categoryOf(err)];
}
