/**
 * The Debian kernels of the kernel matrix: the newest `linux-image-amd64`
 * of each release (bullseye 5.10, bookworm 6.1, trixie 6.12, security
 * updates included), downloaded from Debian's archive with apt into
 * `build/kernels/<release>/` (vmlinuz, config and modules, as the package
 * has them) and kept there. apt runs with its own sources list, package
 * lists and cache under `build/kernels/apt/`, so the machine's apt setup
 * is neither needed nor touched.
 *
 * The package lists are fetched again when they are older than a day: a
 * new security kernel then replaces the old one. Without the archive, the
 * kernels already in build/ are used, with a warning.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;

/** Where the kernels and apt's state live. */
export const kernelsDir = `${root}build/kernels`;

/** The Debian releases of the matrix, oldest first, with their kernel line. */
export const debianReleases = [
  { suite: "bullseye", line: "5.10" },
  { suite: "bookworm", line: "6.1" },
  { suite: "trixie", line: "6.12" },
] as const;

/** A kernel ready to boot. */
export interface VmKernel {
  /** The Debian release it comes from. */
  suite: string;
  /** Its release string (`uname -r` in the guest), e.g. 5.10.0-46-amd64. */
  release: string;
  /** The kernel image. */
  vmlinuz: string;
  /** Its modules, as /lib/modules/<release> would hold them. */
  modules: string;
}

const aptDir = `${kernelsDir}/apt`;
const listsMaxAgeMs = 24 * 3600_000;

/** apt options that keep apt's state under build/kernels/apt. */
function aptOptions(): string[] {
  return [
    `-o`,
    `Dir::Etc::SourceList=${aptDir}/sources.list`,
    `-o`,
    `Dir::Etc::SourceParts=/dev/null`,
    `-o`,
    `Dir::State::Lists=${aptDir}/lists`,
    `-o`,
    `Dir::Cache=${aptDir}/cache`,
    `-o`,
    `APT::Sandbox::User=root`,
  ];
}

function sourcesList(): string {
  const key = "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg";
  return debianReleases.flatMap(({ suite }) => [
    `deb [${key}] http://deb.debian.org/debian ${suite} main`,
    `deb [${key}] http://deb.debian.org/debian-security ${suite}-security main`,
  ]).join("\n") + "\n";
}

/** Runs `cmd args...` in `cwd`; returns its stdout or throws with its stderr. */
async function output(
  cmd: string,
  args: string[],
  cwd?: string,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const shown = args.filter((a, i) => a !== "-o" && args[i - 1] !== "-o");
    throw new Error(
      `Cannot fetch the matrix kernels: ${cmd} ${
        shown.join(" ")
      } exited with ${out.code}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Fetches apt's package lists when they are missing or older than a day. */
async function updateLists(): Promise<void> {
  Deno.mkdirSync(`${aptDir}/lists/partial`, { recursive: true });
  Deno.mkdirSync(`${aptDir}/cache/archives/partial`, { recursive: true });
  Deno.writeTextFileSync(`${aptDir}/sources.list`, sourcesList());
  const stamp = `${aptDir}/updated`;
  const age = Date.now() - (statTime(stamp) ?? 0);
  if (age < listsMaxAgeMs) return;
  await output("apt-get", [...aptOptions(), "-qq", "update"]);
  Deno.writeTextFileSync(stamp, new Date().toISOString() + "\n");
}

/**
 * The package of the newest kernel of `suite` (its security updates
 * included), e.g. linux-image-5.10.0-46-amd64.
 */
async function newestImage(suite: string): Promise<string> {
  // madison lists every version with the suite it comes from, newest first.
  const madison = await output("apt-cache", [
    ...aptOptions(),
    "madison",
    "linux-image-amd64",
  ]);
  const version = madison.split("\n").map((l) =>
    l.split("|").map((f) => f.trim())
  )
    .find((f) =>
      f.length === 3 && new RegExp(` ${suite}(-security)?/main `).test(f[2])
    )?.[1];
  if (!version) {
    throw new Error(
      `No linux-image-amd64 of Debian ${suite} in the package lists under ${aptDir}.`,
    );
  }
  const show = await output("apt-cache", [
    ...aptOptions(),
    "show",
    `linux-image-amd64=${version}`,
  ]);
  const image = /^Depends: (linux-image-[^ ,]+)/m.exec(show)?.[1];
  if (!image) {
    throw new Error(
      `linux-image-amd64 ${version} of Debian ${suite} names no kernel package.`,
    );
  }
  return image;
}

/** Downloads and unpacks `image` into build/kernels/<release>, unless there. */
async function unpack(image: string): Promise<string> {
  const release = image.slice("linux-image-".length);
  const dir = `${kernelsDir}/${release}`;
  if (statTime(`${dir}/boot/vmlinuz-${release}`)) return release;
  const tmp = Deno.makeTempDirSync({ dir: kernelsDir, prefix: ".fetch-" });
  try {
    await output("apt-get", [...aptOptions(), "-qq", "download", image], tmp);
    const deb = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${image} wrote no package.`);
    await output("dpkg-deb", ["-x", `${tmp}/${deb.name}`, `${tmp}/root`]);
    Deno.renameSync(`${tmp}/root`, dir);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
  return release;
}

function kernelOf(suite: string, release: string): VmKernel {
  const dir = `${kernelsDir}/${release}`;
  return {
    suite,
    release,
    vmlinuz: `${dir}/boot/vmlinuz-${release}`,
    modules: `${dir}/lib/modules/${release}`,
  };
}

/** The kernels of `suite` already in build/, newest name first. */
function cached(suite: string): string[] {
  const line = debianReleases.find((r) => r.suite === suite)!.line;
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(kernelsDir)) {
      if (e.isDirectory && e.name.startsWith(`${line}.`)) out.push(e.name);
    }
  } catch {
    // none yet
  }
  return out.sort().reverse();
}

/**
 * Makes sure the newest kernel of every release in
 * {@linkcode debianReleases} is in build/kernels and returns them, oldest
 * first. Older kernels of the same release are removed. `warn` hears of
 * an archive that cannot be reached while cached kernels can stand in.
 */
export async function ensureKernels(
  warn: (message: string) => void = console.warn,
): Promise<VmKernel[]> {
  Deno.mkdirSync(kernelsDir, { recursive: true });
  const kernels: VmKernel[] = [];
  let offline: Error | undefined;
  try {
    await updateLists();
  } catch (e) {
    offline = e as Error;
  }
  for (const { suite } of debianReleases) {
    if (!offline) {
      try {
        const release = await unpack(await newestImage(suite));
        for (const old of cached(suite)) {
          if (old !== release) {
            Deno.removeSync(`${kernelsDir}/${old}`, { recursive: true });
          }
        }
        kernels.push(kernelOf(suite, release));
        continue;
      } catch (e) {
        offline = e as Error;
      }
    }
    const [release] = cached(suite);
    if (!release) throw offline;
    warn(
      `Using the cached ${suite} kernel ${release}: ${offline.message}`,
    );
    kernels.push(kernelOf(suite, release));
  }
  return kernels;
}

function statTime(path: string): number | undefined {
  try {
    return Deno.statSync(path).mtime?.getTime();
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  for (const k of await ensureKernels()) {
    console.log(`${k.suite} ${k.release} ${k.vmlinuz}`);
  }
}
