/**
 * `deno task build`: compiles the BPF objects, regenerates gen/ when the
 * .proto sources changed, and builds the Go example and test programs into
 * build/. Each step skips what is already up to date.
 *
 * @module
 */
import { buildBpf } from "./build_bpf.ts";
import { generate } from "./gen.ts";

const root = new URL("..", import.meta.url).pathname;

/** The Go programs the demo, tests and benchmarks run: output name → [module dir, package]. */
export const goPrograms: Record<string, [string, string]> = {
  hello: ["examples", "./hello"],
  showcase: ["examples", "./showcase"],
  emitter: ["go", "./sdk/internal/handoff/emitter"],
};

/** Builds everything into build/ and returns the paths it produced. */
export async function build(): Promise<string[]> {
  const out: string[] = [];
  out.push(...await buildBpf(`${root}build/bpf`));
  if (await protoSourcesNewerThan(`${root}gen`)) await generate(`${root}gen`);
  for (const [name, [dir, pkg]] of Object.entries(goPrograms)) {
    const path = `${root}build/bin/${name}`;
    await goBuild(`${root}${dir}`, pkg, path);
    out.push(path);
  }
  return out;
}

/** True when a .proto under proto/ is newer than every file under gen/. */
async function protoSourcesNewerThan(genDir: string): Promise<boolean> {
  const newest = async (
    dir: string,
    suffix: string,
    pick: (a: number, b: number) => number,
  ) => {
    let best: number | undefined;
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else if (e.name.endsWith(suffix)) {
          const t = (await Deno.stat(p)).mtime?.getTime() ?? 0;
          best = best === undefined ? t : pick(best, t);
        }
      }
    };
    await walk(dir).catch(() => {});
    return best;
  };
  const proto = await newest(`${root}proto`, ".proto", Math.max);
  const gen = await newest(genDir, ".ts", Math.min);
  return proto !== undefined && (gen === undefined || proto > gen);
}

async function goBuild(
  dir: string,
  pkg: string,
  output: string,
): Promise<void> {
  const { code, stderr } = await new Deno.Command("go", {
    args: ["build", "-o", output, pkg],
    cwd: dir,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot build ${pkg} in ${dir}: go build exited with ${code}:\n${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
}

if (import.meta.main) {
  try {
    await build();
  } catch (err) {
    console.error(`build: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
