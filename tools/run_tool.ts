/**
 * Runs a build tool to completion, for the build scripts: one error shape
 * for a tool that is missing and one for a tool that fails.
 *
 * @module
 */

/**
 * Runs `cmd args...` (stdout discarded). Throws "Cannot `what`: ..." naming
 * a missing `cmd` with `install` (how to get it), or a failing one with its
 * exit code and stderr.
 */
export async function runTool(
  cmd: string,
  args: string[],
  what: string,
  install: string,
): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot ${what}: ${cmd} is not installed (${install}).`);
    }
    throw err;
  }
  if (!out.success) {
    throw new Error(
      `Cannot ${what}: ${cmd} ${args.join(" ")} exited with ${out.code}:\n${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}
