/**
 * The Go load program (bench/app): building it and running one mode of it.
 *
 * @module
 */
import { track } from "./children.ts";

const appDir = new URL("./app/", import.meta.url).pathname;

/** What one run of the load program printed (numbers and flags). */
export type AppResult = Record<string, number | boolean>;

/**
 * Builds bench/app into `dir` and returns the executable's path. Each run
 * gets a fresh file, so no probe of an earlier run sits on it.
 */
export async function buildApp(dir: string): Promise<string> {
  const exe = `${dir}/app`;
  const { code, stderr } = await new Deno.Command("go", {
    args: ["build", "-o", exe, "."],
    cwd: appDir,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot build the load program (go build in ${appDir}): ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
  return exe;
}

/** Runs the load program with `args` (and extra environment) and returns its JSON result. */
export async function runApp(
  exe: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<AppResult> {
  const child = track(
    new Deno.Command(exe, {
      args,
      env,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn(),
  );
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `The load program (${args.join(" ")}) exited with ${code}${
        code === 3 ? " (it did not reach the attach state asked for)" : ""
      }: ${dec.decode(stderr).trim()}`,
    );
  }
  const lines = dec.decode(stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}
