/**
 * `deno task image`: builds the agent's OCI image with Podman and prints its
 * reference (`localhost/spanbridge:<version>`) alone on the last line.
 *
 * No image registry is reachable where this runs, so the base is a root
 * filesystem of Debian packages made by mmdebstrap and imported into Podman.
 * It holds only libbpf1, bpftool, the C libraries that Deno and bpftool
 * link, and dash for the entry script, with their dependencies (mmdebstrap's
 * `extract` variant unpacks them without installing: no apt and no package
 * database, 18 MB where `--variant=apt` made 177 MB).
 * On top (deploy/image/Containerfile): Deno from its npm package, the
 * controller's sources, the probe objects and the npm packages cached so the
 * agent runs offline.
 *
 * Both steps are cached: the root filesystem under build/image/ and as a
 * base image keyed by its package list, the agent image by a hash of every
 * input (a label on the image), so a warm run only hashes files.
 *
 * `deno run -A tools/image.ts <reference>` builds under another reference.
 * The tests build {@linkcode checkoutImageRef}, a tag of this checkout alone,
 * so that checkouts on one machine do not rebuild and replace each other's
 * image; an image of the same inputs built under any reference is tagged
 * rather than built again.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { imageExists, podman } from "./podman.ts";
import { runTool } from "./run_tool.ts";
import config from "../deno.json" with { type: "json" };

const root = new URL("..", import.meta.url).pathname;
const work = `${root}build/image`;

/**
 * The reference `deno task image` builds, which the chart and the README
 * name: `localhost/spanbridge:<version>`.
 */
export const imageRef = `localhost/spanbridge:${config.version}`;

/**
 * The reference the tests build for the checkout at `dir` (this one by
 * default): `imageRef` with a tag suffix from a hash of the checkout's real
 * path, so that each checkout on a machine keeps its own image.
 */
export function checkoutImageRef(dir: string = root): string {
  const key = sha256(Deno.realPathSync(dir)).slice(0, 12);
  return `${imageRef}-checkout-${key}`;
}

/** The label that holds the hash of the image's inputs. */
const inputsLabel = "io.spanbridge.inputs";

/** The Debian suite and packages of the base root filesystem. */
export const baseSpec = {
  suite: "bookworm",
  packages: ["libbpf1", "bpftool", "libc6", "libgcc-s1", "dash"],
};

/** Which mmdebstrap run makes the base: its arguments before the target. */
function mmdebstrapArgs(): string[] {
  return [
    "--quiet",
    "--variant=extract",
    `--include=${baseSpec.packages.join(",")}`,
    baseSpec.suite,
  ];
}

/**
 * What the base leaves out of the extracted packages: documentation and
 * translations are a third of their size and nothing reads them here
 * (mmdebstrap runs no hooks for the `extract` variant, so this is done on
 * the extracted tree).
 */
const unused = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
  "usr/share/lintian",
  "usr/share/bug",
];

/**
 * Files the base gets that no extracted package provides: the user and group
 * of root (base-passwd writes them only when installed, which the `extract`
 * variant does not do), so the agent names root-owned processes as on a host.
 */
const written: Record<string, string> = {
  "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
  "etc/group": "root:x:0:\n",
};

function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

function log(message: string): void {
  console.error(`image: ${message}`);
}

/** Makes (or finds) the base image; returns its reference. */
async function baseImage(): Promise<string> {
  const key = sha256(JSON.stringify([mmdebstrapArgs(), unused, written]))
    .slice(0, 16);
  const ref = `localhost/spanbridge-base:${key}`;
  if (await imageExists(ref)) return ref;
  const tar = `${work}/rootfs-${key}.tar`;
  if (!await exists(tar)) {
    log(
      `making the root filesystem (mmdebstrap ${baseSpec.suite}: ${
        baseSpec.packages.join(", ")
      })`,
    );
    await Deno.mkdir(work, { recursive: true });
    // Root filesystems of other package lists are stale: only one is kept.
    for (const e of Deno.readDirSync(work)) {
      if (e.name.startsWith("rootfs-")) {
        await Deno.remove(`${work}/${e.name}`, { recursive: true });
      }
    }
    const tree = `${work}/rootfs-${key}.partial`;
    await Deno.mkdir(tree);
    await run(
      "mmdebstrap",
      [...mmdebstrapArgs(), `${tree}/`],
      "make the image's root filesystem",
    );
    for (const dir of unused) {
      await Deno.remove(`${tree}/${dir}`, { recursive: true }).catch(() => {});
    }
    for (const [path, text] of Object.entries(written)) {
      await Deno.writeTextFile(`${tree}/${path}`, text);
    }
    await Deno.mkdir(`${tree}/tmp`, { recursive: true, mode: 0o1777 });
    await Deno.chmod(`${tree}/tmp`, 0o1777);
    const partial = `${work}/rootfs-${key}.partial.tar`;
    await run(
      "tar",
      ["--numeric-owner", "-C", tree, "-cf", partial, "."],
      "pack the image's root filesystem",
    );
    await Deno.remove(tree, { recursive: true });
    await Deno.rename(partial, tar);
  }
  log(`importing ${tar} as ${ref}`);
  await podman(["import", "--quiet", tar, ref]);
  // Bases of other package lists are stale; Podman keeps any that an image
  // still builds on.
  const bases = await podman([
    "images",
    "--format",
    "{{.Repository}}:{{.Tag}}",
    "localhost/spanbridge-base",
  ]);
  for (const stale of bases.split("\n").filter((b) => b && b !== ref)) {
    await podman(["rmi", stale]).catch(() => {});
  }
  return ref;
}

/** Runs `cmd args...` to completion; throws naming `what` with its stderr. */
function run(cmd: string, args: string[], what: string): Promise<void> {
  return runTool(cmd, args, what, "tools/bootstrap.sh installs it, as root");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Files under `dir` (relative to the repository) whose names pass `keep`, sorted. */
function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${root}${rel}`)) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile && keep(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Where each file of the build context comes from: context path → source path. */
export function contextFiles(): Map<string, string> {
  const files = new Map<string, string>();
  files.set(
    "deno",
    Deno.realPathSync(`${root}tools/npm/node_modules/.bin/deno`),
  );
  files.set("spanbridge", `${root}deploy/image/spanbridge`);
  const isSource = (n: string) =>
    n.endsWith(".ts") && !n.endsWith("_test.ts") && n !== "_test_utils.ts";
  for (
    const f of [...filesUnder("src", isSource), ...filesUnder("gen", isSource)]
  ) {
    files.set(`app/${f}`, `${root}${f}`);
  }
  for (const f of ["deno.json", "deno.lock"]) {
    files.set(`app/${f}`, `${root}${f}`);
  }
  // Every probe object but the test variants (bpf/*_test.bpf.c).
  const isProbe = (n: string) => n.endsWith(".o") && !n.includes("_test.");
  for (const f of filesUnder("build/bpf", isProbe)) {
    files.set(`app/${f}`, `${root}${f}`);
  }
  return files;
}

/**
 * A hash of everything the image is made of: the base image, the
 * Containerfile, and each context file's path, executable bit and content.
 */
export async function inputsHash(
  base: string,
  files: Map<string, string>,
): Promise<string> {
  const h = createHash("sha256");
  h.update(`${base}\n`);
  h.update(await Deno.readFile(`${root}deploy/image/Containerfile`));
  for (const [dest, src] of [...files].sort(([a], [b]) => a < b ? -1 : 1)) {
    const mode = (await Deno.stat(src)).mode ?? 0;
    h.update(`\n${dest} ${mode & 0o111 ? "x" : "-"}\n`);
    h.update(await Deno.readFile(src));
  }
  return h.digest("hex");
}

/** Copies the build context into `dir` and caches the npm packages there. */
async function stage(dir: string, files: Map<string, string>): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  for (const [dest, src] of files) {
    const to = `${dir}/${dest}`;
    await Deno.mkdir(to.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.copyFile(src, to);
  }
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "cache",
      "--frozen",
      "--config",
      `${dir}/app/deno.json`,
      `${dir}/app/src/main.ts`,
    ],
    env: { DENO_DIR: `${dir}/app/deno_dir`, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot cache the npm packages for the image: deno cache exited with ${code}: ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
}

/** The hash label of image `ref`, or undefined when there is no such image. */
async function builtInputs(ref: string): Promise<string | undefined> {
  if (!await imageExists(ref)) return undefined;
  const out = await podman([
    "image",
    "inspect",
    "--format",
    `{{index .Labels "${inputsLabel}"}}`,
    ref,
  ]);
  return out || undefined;
}

/** Size of image `ref` in bytes, as Podman reports it. */
export async function imageSize(ref: string): Promise<number> {
  return Number(
    await podman(["image", "inspect", "--format", "{{.Size}}", ref]),
  );
}

/**
 * One image (its id) made from the inputs that hash to `hash`, under any
 * reference, or undefined when there is none.
 */
async function imageOfInputs(hash: string): Promise<string | undefined> {
  const ids = await podman([
    "images",
    "--filter",
    `label=${inputsLabel}=${hash}`,
    "--filter",
    "dangling=false",
    "--format",
    "{{.ID}}",
  ]);
  return ids.split("\n").find((id) => id) || undefined;
}

/**
 * Makes `ref` (by default {@linkcode imageRef}) the agent image of the
 * current inputs, unless it is already: tags an image of the same inputs
 * when one exists (another checkout's, or the other reference's), builds
 * otherwise. Resolves to `ref`.
 */
export async function buildImage(ref: string = imageRef): Promise<string> {
  const base = await baseImage();
  const files = contextFiles();
  const hash = await inputsHash(base, files);
  if (await builtInputs(ref) === hash) {
    log(`${ref} is up to date`);
    return ref;
  }
  const same = await imageOfInputs(hash);
  // The image may lose its last other tag and be pruned meanwhile: then build.
  if (same && await podman(["tag", same, ref]).then(() => true, () => false)) {
    log(`tagged ${same} as ${ref}: it has the same inputs`);
  } else {
    const context = `${work}/context`;
    log(`staging the build context in ${context}`);
    await stage(context, files);
    log(`building ${ref} on ${base}`);
    await podman([
      "build",
      "--quiet",
      "--pull=never",
      "--file",
      `${root}deploy/image/Containerfile`,
      "--build-arg",
      `BASE=${base}`,
      "--label",
      `${inputsLabel}=${hash}`,
      "--label",
      `org.opencontainers.image.version=${config.version}`,
      "--tag",
      ref,
      context,
    ]);
    await Deno.remove(context, { recursive: true });
  }
  // Agent images left without a reference (the one `ref` named before, by
  // this or another checkout) are stale. Only untagged ones go: an image
  // id may be shared by several references, and Podman keeps any that a
  // container still uses.
  await podman([
    "image",
    "prune",
    "--force",
    "--filter",
    `label=${inputsLabel}`,
  ]).catch(() => {});
  const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
  log(
    `${ref}: ${mb(await imageSize(ref))} (base ${mb(await imageSize(base))})`,
  );
  return ref;
}

if (import.meta.main) {
  try {
    if (Deno.args.length > 1 || Deno.args[0]?.startsWith("-")) {
      throw new Error(
        `Give at most one argument, the image reference to build (default ${imageRef}); got: ${
          Deno.args.join(" ")
        }.`,
      );
    }
    console.log(await buildImage(Deno.args[0] ?? imageRef));
  } catch (err) {
    console.error(`image: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
