/**
 * Runs a check over every Go module of the repository (go/, go/bench,
 * examples/, bench/app, testing/collector ...): `check` is gofmt and go vet
 * (for arm64 too where the code ships to users: go/ and examples/);
 * `test` is go test -race.
 *
 * ```sh
 * deno run -A tools/go_modules.ts check
 * deno run -A tools/go_modules.ts test
 * ```
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;

/** Directories (relative to the repository) that hold a go.mod. */
export function goModules(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${root}${dir}`)) {
      if (e.isFile && e.name === "go.mod") found.push(dir || ".");
      if (
        e.isDirectory && !e.name.startsWith(".") && e.name !== "node_modules"
      ) {
        walk(dir ? `${dir}/${e.name}` : e.name);
      }
    }
  };
  for (const top of ["go", "examples", "bench", "tests", "testing"]) {
    try {
      walk(top);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return found.sort();
}

async function run(
  dir: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
) {
  const { code, stdout, stderr } = await new Deno.Command(cmd, {
    args,
    cwd: `${root}${dir}`,
    env,
  }).output();
  const out = new TextDecoder().decode(stdout) +
    new TextDecoder().decode(stderr);
  return { ok: code === 0, out };
}

/**
 * gofmt -l and go vet in `dir`, also for arm64 in go/ and examples/ (the
 * harness modules under bench/ and tests/ run here only, and vetting them for
 * arm64 would compile all their dependencies once more); returns the problems.
 */
export async function check(dir: string): Promise<string[]> {
  const problems: string[] = [];
  const fmt = await run(dir, "gofmt", ["-l", "."]);
  if (!fmt.ok || fmt.out.trim()) {
    problems.push(`${dir}: gofmt: files need formatting:\n${fmt.out}`);
  }
  const shipped = /^(go|examples)(\/|$)/.test(dir);
  for (const goarch of shipped ? ["amd64", "arm64"] : ["amd64"]) {
    const vet = await run(dir, "go", ["vet", "./..."], { GOARCH: goarch });
    if (!vet.ok) {
      problems.push(`${dir}: go vet (GOARCH=${goarch}):\n${vet.out}`);
    }
  }
  return problems;
}

/**
 * go test -race -count=1 over the packages of `dir` that have tests, output
 * streamed; returns whether it passed. Packages without tests are left out:
 * building them with -race would only compile their dependencies again.
 */
export async function test(dir: string): Promise<boolean> {
  const list = await run(dir, "go", [
    "list",
    "-f",
    "{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}",
    "./...",
  ]);
  if (!list.ok) {
    console.error(`${dir}: go list failed:\n${list.out}`);
    return false;
  }
  const packages = list.out.split("\n").filter(Boolean);
  if (packages.length === 0) {
    console.log(`${dir}: no Go tests`);
    return true;
  }
  console.log(`go test -race in ${dir}`);
  const { code } = await new Deno.Command("go", {
    args: ["test", "-race", "-count=1", ...packages],
    cwd: `${root}${dir}`,
  }).spawn().status;
  return code === 0;
}

if (import.meta.main) {
  const what = Deno.args[0];
  let failed = false;
  for (const dir of goModules()) {
    if (what === "check") {
      for (const p of await check(dir)) {
        console.error(p);
        failed = true;
      }
    } else if (what === "test") {
      if (!await test(dir)) failed = true;
    } else {
      console.error(
        `usage: deno run -A tools/go_modules.ts check|test (got "${what}")`,
      );
      Deno.exit(2);
    }
  }
  Deno.exit(failed ? 1 : 0);
}
