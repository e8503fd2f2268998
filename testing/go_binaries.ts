/**
 * The Go binary builder: real binaries of each kind a test of target
 * resolution needs, built once per test process into a temporary directory
 * with the installed Go toolchain and cc, one build at a time.
 *
 * Programs that import the probe point are built from the repository's SDK
 * through `go build -overlay`, which adds a main package (and, for the
 * wrapper variant, a file of package handoff) without writing into the
 * repository: internal import rules want the main package under go/sdk.
 *
 * @module
 */

const goDir = new URL("../go/", import.meta.url).pathname;
const handoffDir = `${goDir}sdk/internal/handoff`;

/** The kinds of binary the tests use. */
export type BinaryName =
  | "sdk" // amd64, with symbols
  | "sdk-stripped" // amd64, -ldflags='-s -w'
  | "sdk-arm64"
  | "sdk-arm64-stripped"
  | "sdk-wrapper" // amd64, with a Go ABI wrapper of ended
  | "sdk-wrapper-stripped"
  | "sdk-external" // amd64, linked by cc (cgo): .text starts before runtime.text
  | "sdk-external-stripped"
  | "fork" // the SDK under another module path
  | "fork-no-nop" // a fork whose ended lacks the NOP
  | "go-plain" // a Go program without the SDK
  | "c-plain"; // a C program

const mainSource = `package main

import (
	"os"
	"time"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

func main() {
	handoff.Ended([]byte("x"))
	if len(os.Args) > 1 {
		d, _ := time.ParseDuration(os.Args[1])
		time.Sleep(d)
	}
}
`;

const wrapperSource = `package handoff

// endedValue makes the linker emit a Go-ABI wrapper of the assembly ended.
var endedValue = ended

func init() { endedValue(nil) }
`;

let dir: Promise<string> | undefined;
const built = new Map<BinaryName, Promise<string>>();

/** Returns the path of a built binary of kind `name`, building it on first use. */
export function binary(name: BinaryName): Promise<string> {
  let p = built.get(name);
  if (p === undefined) {
    p = build(name);
    built.set(name, p);
  }
  return p;
}

/** Returns the temporary directory the binaries are built in (removed at exit). */
export function testDir(): Promise<string> {
  dir ??= Deno.makeTempDir({ prefix: "spanbridge-target-test-" }).then((d) => {
    globalThis.addEventListener(
      "unload",
      () => Deno.removeSync(d, { recursive: true }),
    );
    return d;
  });
  return dir;
}

/** Runs a command and returns its standard output; throws with its stderr on failure. */
export async function run(
  cmd: string[],
  options: Deno.CommandOptions = {},
): Promise<string> {
  const out = await new Deno.Command(cmd[0], { ...options, args: cmd.slice(1) })
    .output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed: ${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

// Builds run one at a time: the test machine has 2 cores shared with others.
let queue: Promise<unknown> = Promise.resolve();

function build(name: BinaryName): Promise<string> {
  const p = queue.then(() => buildNow(name));
  queue = p.catch(() => {});
  return p;
}

async function buildNow(name: BinaryName): Promise<string> {
  const tmp = await testDir();
  const out = `${tmp}/${name}`;
  const arm = name.startsWith("sdk-arm64");
  const env: Record<string, string> = {
    GOARCH: arm ? "arm64" : "amd64",
    GOOS: "linux",
    CGO_ENABLED: name.startsWith("sdk-external") ? "1" : "0",
    GOFLAGS: "",
  };
  const ldflags = [
    name.startsWith("sdk-external") ? "-linkmode=external" : "",
    name.endsWith("-stripped") ? "-s -w" : "",
  ].filter((s) => s !== "").join(" ");
  const flags = ldflags === "" ? [] : [`-ldflags=${ldflags}`];
  if (name.startsWith("sdk")) {
    const overlay = await writeOverlay(tmp, name.startsWith("sdk-wrapper"));
    await run(
      [
        "go",
        "build",
        `-overlay=${overlay}`,
        ...flags,
        "-o",
        out,
        "./sdk/internal/handoff/zz_target_test",
      ],
      { cwd: goDir, env },
    );
  } else if (name === "fork" || name === "fork-no-nop") {
    const src = await writeFork(tmp, name === "fork-no-nop");
    await run(["go", "build", "-o", out, "./sdk/cmd/app"], { cwd: src, env });
  } else if (name === "go-plain") {
    const src = `${tmp}/plain-src`;
    await Deno.mkdir(src, { recursive: true });
    await Deno.writeTextFile(
      `${src}/go.mod`,
      "module example.com/plain\n\ngo 1.22\n",
    );
    await Deno.writeTextFile(
      `${src}/main.go`,
      'package main\n\nfunc main() { println("hi") }\n',
    );
    await run(["go", "build", "-o", out, "."], { cwd: src, env });
  } else {
    await Deno.writeTextFile(
      `${tmp}/plain.c`,
      "int main(void) { return 0; }\n",
    );
    await run(["cc", "-o", out, `${tmp}/plain.c`]);
  }
  return out;
}

async function writeOverlay(tmp: string, wrapper: boolean): Promise<string> {
  const mainFile = `${tmp}/main.go`;
  const wrapperFile = `${tmp}/wrapper.go`;
  await Deno.writeTextFile(mainFile, mainSource);
  await Deno.writeTextFile(wrapperFile, wrapperSource);
  const replace: Record<string, string> = {
    [`${handoffDir}/zz_target_test/main.go`]: mainFile,
  };
  if (wrapper) replace[`${handoffDir}/zz_target_test_wrapper.go`] = wrapperFile;
  const overlay = `${tmp}/overlay-${wrapper ? "wrapper" : "plain"}.json`;
  await Deno.writeTextFile(overlay, JSON.stringify({ Replace: replace }));
  return overlay;
}

/** Copies the SDK's handoff package into a module of another path. */
async function writeFork(tmp: string, noNop: boolean): Promise<string> {
  const src = `${tmp}/fork-src${noNop ? "-no-nop" : ""}`;
  const pkg = `${src}/sdk/internal/handoff`;
  await Deno.mkdir(pkg, { recursive: true });
  await Deno.mkdir(`${src}/sdk/cmd/app`, { recursive: true });
  await Deno.writeTextFile(
    `${src}/go.mod`,
    "module example.com/fork\n\ngo 1.22\n",
  );
  for await (const entry of Deno.readDir(handoffDir)) {
    const f = entry.name;
    if (!entry.isFile || !/\.(go|s)$/.test(f) || f.endsWith("_test.go")) {
      continue;
    }
    let text = await Deno.readTextFile(`${handoffDir}/${f}`);
    // Drop the NOP's bytes (amd64) so the probe point looks foreign.
    if (noNop) text = text.replace(/^\tBYTE \$0x0f;.*\n/m, "");
    await Deno.writeTextFile(`${pkg}/${f}`, text);
  }
  await Deno.writeTextFile(
    `${src}/sdk/cmd/app/main.go`,
    mainSource.replace(
      "github.com/spanbridge/spanbridge/go/sdk/internal/handoff",
      "example.com/fork/sdk/internal/handoff",
    ),
  );
  return src;
}
