/**
 * `deno task compile`: one standalone `build/spanbridge` binary that embeds
 * the probe objects (build/bpf) and needs only libbpf.so.1 and bpftool on the
 * host.
 *
 * `deno compile` starts from a base runtime ("denort") that it downloads from
 * Deno's own site unless DENORT_BIN names a local copy. Where neither works
 * (as on machines that reach only package registries) this task says so and
 * exits 3.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;

/** The arguments given to `deno compile`. */
export function compileArgs(output: string): string[] {
  return [
    "compile",
    "--allow-all",
    // Baked into the binary: the agent's V8 settings (deploy/image/spanbridge says why).
    "--v8-flags=--max-semi-space-size=1",
    "--include",
    `${root}build/bpf`,
    "--output",
    output,
    `${root}src/main.ts`,
  ];
}

/** Compiles the standalone binary to `output`; resolves to the exit code. */
export async function compile(
  output = `${root}build/spanbridge`,
): Promise<number> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    console.error(`compile: using the base runtime DENORT_BIN=${denort}`);
  }
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(output),
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  if (code === 0) {
    console.error(`compile: wrote ${output}`);
    return 0;
  }
  Deno.stderr.writeSync(stderr);
  if (!denort && /denort|download/i.test(text)) {
    console.error(
      "compile: deno compile could not download its base runtime (denort). " +
        "Point DENORT_BIN at a denort binary of the same Deno version and run again.",
    );
    return 3;
  }
  return 1;
}

if (import.meta.main) Deno.exit(await compile(Deno.args[0]));
