/**
 * Containers for the end-to-end tests: static Go programs in minimal images
 * made from a tar, containers under names unique to the test process, the
 * agent image run the way the README says, and the removal of everything a
 * test made.
 *
 * @module
 */
import assert from "node:assert/strict";
import { podman, podmanEnv } from "../tools/podman.ts";
import { buildImage, checkoutImageRef } from "../tools/image.ts";
import { ControllerProcess, root } from "./harness.ts";
import { attributeMap, type ReceivedSpan } from "./receiver.ts";
import { assertSpans, type ShowcaseRecord } from "./assert_spans.ts";

/** The Go programs the container tests put in images: name → [module dir, package]. */
const staticPrograms = {
  showcase: ["examples", "./showcase"],
  hello: ["examples", "./hello"],
  plain: ["testing/plain", "."],
  slog: ["testing/slog", "."],
  halves: ["testing/halves", "."],
  reexec: ["testing/reexec", "."],
} as const;

/** A program of {@linkcode staticPrograms}. */
export type StaticProgram = keyof typeof staticPrograms;

/**
 * Builds `name` as a static binary (no cgo: an image of that one file runs
 * it) into build/static/; returns its path. `go build` skips what is up to
 * date.
 */
export async function staticProgram(name: StaticProgram): Promise<string> {
  const [dir, pkg] = staticPrograms[name];
  const out = `${root}build/static/${name}`;
  const { code, stderr } = await new Deno.Command("go", {
    args: ["build", "-o", out, pkg],
    cwd: `${root}${dir}`,
    env: { CGO_ENABLED: "0" },
    stdin: "null",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot build ${pkg} in ${dir} as a static binary: go build exited with ${code}:\n${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  return out;
}

/** The capabilities the agent container gets on top of Podman's defaults (no --privileged). */
export const agentCapabilities = ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"];

/** A running container: its name, Podman's full id, and its main process's host pid. */
export interface Container {
  name: string;
  id: string;
  pid: number;
}

/**
 * Imports into Podman, as `ref`, an image of nothing but `files` (path in
 * the image → host file, made executable) with `entrypoint`.
 */
export async function importFilesImage(
  ref: string,
  files: Record<string, string>,
  entrypoint: string,
): Promise<void> {
  const stage = await Deno.makeTempDir({ prefix: "spanbridge-image-" });
  try {
    for (const [inImage, onHost] of Object.entries(files)) {
      const to = `${stage}/rootfs${inImage}`;
      await Deno.mkdir(to.replace(/\/[^/]+$/, ""), { recursive: true });
      await Deno.copyFile(onHost, to);
      await Deno.chmod(to, 0o755);
    }
    const tar = `${stage}/rootfs.tar`;
    const packed = await new Deno.Command("tar", {
      args: ["--numeric-owner", "-C", `${stage}/rootfs`, "-cf", tar, "."],
    }).output();
    if (packed.code !== 0) {
      throw new Error(
        `Cannot pack the image ${ref}: tar exited with ${packed.code}: ${
          new TextDecoder().decode(packed.stderr)
        }`,
      );
    }
    await podman([
      "import",
      "--quiet",
      "--change",
      `ENTRYPOINT ${JSON.stringify([entrypoint])}`,
      tar,
      ref,
    ]);
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

/**
 * The containers and images of one test, under names unique to this test
 * process; {@linkcode ContainerScope.remove} removes them all.
 */
export class ContainerScope {
  readonly #tag: string;
  readonly #containers: string[] = [];
  readonly #images: string[] = [];

  /** A scope whose names start with spanbridge-test-<tag>-<pid of this test process>. */
  constructor(tag: string) {
    this.#tag = `spanbridge-test-${tag}-${Deno.pid}`;
  }

  /** The unique name of `what` in this scope. */
  name(what: string): string {
    return `${this.#tag}-${what}`;
  }

  /**
   * Makes an image of nothing but `files` (path in the image → file on the
   * host) with `entrypoint`; returns its reference.
   */
  async image(
    what: string,
    files: Record<string, string>,
    entrypoint: string,
  ): Promise<string> {
    const ref = `localhost/${this.name(what)}:latest`;
    this.#images.push(ref);
    await importFilesImage(ref, files, entrypoint);
    return ref;
  }

  /**
   * Starts a detached container `what` of `image` with `options` (podman run
   * flags) and `args` (its command's arguments), without a network: the test
   * programs need none, and so the tests need no CNI setup (iptables).
   */
  async run(
    what: string,
    image: string,
    options: string[],
    args: string[],
  ): Promise<Container> {
    const name = this.name(what);
    this.#containers.push(name);
    await podman([
      "run",
      "--detach",
      "--network=none",
      "--name",
      name,
      ...options,
      image,
      ...args,
    ]);
    return await this.inspect(name);
  }

  /** Podman's id and host pid of container `name`. */
  async inspect(name: string): Promise<Container> {
    const [id, pid] = (await podman([
      "inspect",
      "--format",
      "{{.Id}} {{.State.Pid}}",
      name,
    ])).split(" ");
    return { name, id, pid: Number(pid) };
  }

  /** Waits for container `name` to exit; resolves with its exit code. */
  async wait(name: string): Promise<number> {
    return Number(await podman(["wait", name]));
  }

  /**
   * Starts the agent image as the README says (host network and pid
   * namespace, bpffs, {@linkcode agentCapabilities}) in the foreground:
   * `spanbridge <args>` with `env`, stopped by SIGTERM through Podman.
   */
  agent(
    image: string,
    args: string[],
    env: Record<string, string>,
  ): ControllerProcess {
    const name = this.name("agent");
    this.#containers.push(name);
    return new ControllerProcess(
      [
        "run",
        "--rm",
        "--name",
        name,
        "--network=host",
        "--pid=host",
        `--cap-add=${agentCapabilities.join(",")}`,
        "--volume=/sys/fs/bpf:/sys/fs/bpf",
        ...Object.entries(env).map(([k, v]) => `--env=${k}=${v}`),
        image,
        ...args,
      ],
      podmanEnv,
      { command: "podman" },
    );
  }

  /**
   * Starts container `what` in the foreground with `runArgs` (podman run
   * options, then the image and its arguments, e.g. derived from a pod
   * template), as a {@linkcode ControllerProcess} stopped by SIGTERM through
   * Podman.
   */
  foreground(what: string, runArgs: string[]): ControllerProcess {
    const name = this.name(what);
    this.#containers.push(name);
    return new ControllerProcess(
      ["run", "--rm", "--name", name, ...runArgs],
      podmanEnv,
      { command: "podman" },
    );
  }

  /** Removes every container and image of this scope (those still there). */
  async remove(): Promise<void> {
    if (this.#containers.length > 0) {
      await podman(["rm", "--force", "--ignore", ...this.#containers]);
    }
    for (const ref of this.#images) {
      await podman(["rmi", "--force", "--ignore", ref]);
    }
  }
}

/** The showcase in a container of an image of its own, writing its record to the host. */
export interface ShowcaseContainer {
  /** Its OTEL_SERVICE_NAME. */
  service: string;
  /** Where the program is in its image (and nowhere on the host). */
  path: string;
  container: Container;
  /** The host directory mounted at /out, where it writes record.json. */
  out: string;
}

/**
 * Starts `showcase` (a static build) at `path` in a new image, as `service`
 * with `env` added to its environment; it waits up to 60 s for the probe,
 * makes its spans and exits.
 */
export async function startShowcase(
  scope: ContainerScope,
  showcase: string,
  service: string,
  path: string,
  env: Record<string, string> = {},
): Promise<ShowcaseContainer> {
  await assert.rejects(
    Deno.stat(path),
    Deno.errors.NotFound,
    `${path} exists on the host: the test needs a path only the container has`,
  );
  const image = await scope.image(service, { [path]: showcase }, path);
  const out = await Deno.makeTempDir({ prefix: "spanbridge-out-" });
  const container = await scope.run(service, image, [
    `--env=OTEL_SERVICE_NAME=${service}`,
    ...Object.entries(env).map(([k, v]) => `--env=${k}=${v}`),
    `--volume=${out}:/out`,
  ], ["-wait-attach", "60s", "-record", "/out/record.json"]);
  return { service, path, container, out };
}

/** Waits for `target` to exit 0 and returns its record. */
export async function showcaseRecord(
  scope: ContainerScope,
  target: ShowcaseContainer,
): Promise<ShowcaseRecord> {
  const code = await scope.wait(target.container.name);
  assert.equal(
    code,
    0,
    `${target.path} in ${target.container.name} exited with ${code}`,
  );
  return JSON.parse(await Deno.readTextFile(`${target.out}/record.json`));
}

/**
 * The received spans whose resource is `target`'s process: its host pid
 * (`by` "pid") or Podman's id of its container (`by` "container.id"). Every
 * resource that carries a container.id must name the container Podman
 * reports.
 */
export function spansOf(
  received: ReceivedSpan[],
  target: ShowcaseContainer,
  by: "pid" | "container.id",
): ReceivedSpan[] {
  const mine = received.filter((r) => {
    const attrs = attributeMap(r.resource);
    return by === "pid"
      ? attrs.get("process.pid")?.intValue === `${target.container.pid}`
      : attrs.get("container.id")?.stringValue === target.container.id;
  });
  for (const r of mine) {
    const containerId = attributeMap(r.resource).get("container.id")
      ?.stringValue;
    if (by === "pid" && containerId !== undefined) {
      assert.equal(
        containerId,
        target.container.id,
        `container.id of ${target.path}`,
      );
    }
  }
  return mine;
}

/**
 * Asserts that each container of `targets` delivered exactly the spans its
 * showcase recorded (`records`, in the same order), found under its resource
 * by host pid or container.id, with its service and executable name, and
 * that no other process's spans arrived.
 */
export function assertContainerSpans(
  received: ReceivedSpan[],
  targets: ShowcaseContainer[],
  records: ShowcaseRecord[],
  by: "pid" | "container.id",
): void {
  const ids = new Set(
    received.map((r) =>
      attributeMap(r.resource).get("container.id")?.stringValue ?? "none"
    ),
  );
  targets.forEach((t, i) => {
    const mine = spansOf(received, t, by);
    assert.equal(
      mine.length,
      records[i].spans.length,
      `spans of ${t.path} in ${t.container.name} (${t.container.id}) by ${by}; container.id of the spans received: ${
        [...ids].join(", ")
      }`,
    );
    assertSpans(records[i], mine, "protobuf", {
      service: t.service,
      executable: t.path.replace(/.*\//, ""),
    });
  });
  const total = records.reduce((n, r) => n + r.spans.length, 0);
  assert.equal(received.length, total, "spans from other processes");
}

/**
 * The agent image of this checkout (tools/image.ts), built first when the
 * tests can trace (`canTrace`); a run that skips them builds nothing.
 */
export async function checkoutAgentImage(canTrace: boolean): Promise<string> {
  const image = checkoutImageRef();
  if (canTrace) await buildImage(image);
  return image;
}
