/**
 * The shape every `spanbridge` subcommand has, so src/main.ts can dispatch
 * to it and print its help.
 *
 * @module
 */

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

/** Exit codes shared by all commands (documented in README.md). */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** A runtime failure: the probe, the target or the exporter failed. */
  failure: 1,
  /** Bad usage: unknown flag, bad value, invalid OTEL_* variable. */
  usage: 2,
  /** The environment lacks something: privileges, bpffs, bpftool, libbpf, kernel support. */
  environment: 3,
} as const;

/** An error that carries the exit code the CLI should end with. */
export class CliError extends Error {
  /** Creates an error with a message for the user and an exit code. */
  constructor(message: string, readonly exitCode: number = ExitCode.failure) {
    super(message);
    this.name = "CliError";
  }
}
