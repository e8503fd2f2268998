/**
 * The command line: the `run` and `receive` commands (flags, environment,
 * logs, the status line) and the one mapping of error categories to exit
 * codes.
 *
 * @module
 */

export * from "./command.ts";
export { receiveCommand } from "./receive.ts";
export { parseRunArgs, run, runCommand, type RunOptions } from "./run.ts";
