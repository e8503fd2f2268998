/**
 * What the kernel holds for a probe instance, as bpftool reports it: the
 * program, map and link ids of the instance pinned under a pin root, and
 * every id loaded on the machine, to prove nothing of ours is left.
 *
 * @module
 */
import assert from "node:assert/strict";

/** The kernel objects of one probe instance. */
export interface InstanceObjects {
  /** The instance's pin directory. */
  dir: string;
  /** Its program's id. */
  progId: number;
  /** Its maps' ids. */
  mapIds: number[];
  /** Ids of the links that attach its program. */
  linkIds: number[];
}

/** Runs `bpftool -j <args>` and parses its JSON output. */
// deno-lint-ignore no-explicit-any
export async function bpftoolJson(args: string[]): Promise<any> {
  const out = await new Deno.Command("bpftool", { args: ["-j", ...args] })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(
    out.success,
    `bpftool ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
  );
  return JSON.parse(text);
}

/** The instance directories under `pinRoot`. */
export function instanceDirs(pinRoot: string): string[] {
  try {
    return [...Deno.readDirSync(pinRoot)]
      .filter((e) => e.isDirectory)
      .map((e) => `${pinRoot}/${e.name}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** The program, maps and links of the one instance pinned under `pinRoot`. */
export async function instanceObjects(
  pinRoot: string,
): Promise<InstanceObjects> {
  const dirs = instanceDirs(pinRoot);
  assert.equal(dirs.length, 1, `instances under ${pinRoot}: ${dirs}`);
  const dir = dirs[0];
  const progs = [...Deno.readDirSync(`${dir}/progs`)];
  assert.equal(progs.length, 1, `programs pinned in ${dir}`);
  const prog = await bpftoolJson([
    "prog",
    "show",
    "pinned",
    `${dir}/progs/${progs[0].name}`,
  ]);
  const mapIds: number[] = [];
  for (const m of Deno.readDirSync(`${dir}/maps`)) {
    const map = await bpftoolJson([
      "map",
      "show",
      "pinned",
      `${dir}/maps/${m.name}`,
    ]);
    mapIds.push(map.id);
  }
  const links: { id: number; prog_id: number }[] = await bpftoolJson([
    "link",
    "show",
  ]);
  return {
    dir,
    progId: prog.id,
    mapIds,
    linkIds: links.filter((l) => l.prog_id === prog.id).map((l) => l.id),
  };
}

/** Every program, map and link id loaded on this machine now. */
export async function loadedIds(): Promise<
  { progs: Set<number>; maps: Set<number>; links: Set<number> }
> {
  const ids = async (kind: string) =>
    new Set<number>(
      ((await bpftoolJson([kind, "show"])) as { id: number }[]).map((o) =>
        o.id
      ),
    );
  return {
    progs: await ids("prog"),
    maps: await ids("map"),
    links: await ids("link"),
  };
}

/**
 * Waits until none of the instance's objects is loaded any more (the kernel
 * frees them shortly after the last pin and fd go); throws naming the rest.
 */
export async function assertUnloaded(
  objects: InstanceObjects,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await loadedIds();
    const left = [
      ...(now.progs.has(objects.progId) ? [`program ${objects.progId}`] : []),
      ...objects.mapIds.filter((id) => now.maps.has(id)).map((id) =>
        `map ${id}`
      ),
      ...objects.linkIds.filter((id) => now.links.has(id)).map((id) =>
        `link ${id}`
      ),
    ];
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`still loaded after the controller stopped: ${left}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
