/**
 * The `spanbridge` command line: traces Go programs that use the spanbridge
 * SDK through an eBPF uprobe and exports their spans over OTLP.
 *
 * ```sh
 * spanbridge run --target ./myserver     # the default command
 * spanbridge receive                     # print OTLP traces sent to 127.0.0.1:4318
 * ```
 *
 * @module
 */
import {
  type Command,
  ExitCode,
  receiveCommand,
  runCommand,
} from "./cli/mod.ts";
import { createLogger } from "./log.ts";
import { version } from "./version.ts";

const commands: Command[] = [runCommand, receiveCommand];

/** The top-level help text. */
export const help =
  `spanbridge ${version}: eBPF tracing for Go programs built with the spanbridge SDK

Usage:
  spanbridge [run] --target <exe> | --pid <pid> [options]
  spanbridge <command> --help

Commands:
${commands.map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join("\n")}

Options:
  -h, --help     Show this help
  -V, --version  Print the version
`;

/** Runs the CLI with `args` and resolves to the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "-h" || first === "--help" || first === "help") {
    console.log(help);
    return ExitCode.ok;
  }
  if (first === "-V" || first === "--version") {
    console.log(`spanbridge ${version}`);
    return ExitCode.ok;
  }
  const command = commands.find((c) => c.name === first);
  if (command) return await command.main(rest);
  if (first !== undefined && !first.startsWith("-")) {
    createLogger().error(
      `unknown command "${first}". Run "spanbridge --help" for the list.`,
    );
    return ExitCode.usage;
  }
  return await runCommand.main(args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
