/**
 * Podman as the image build and the container tests run it: always with the
 * repository's containers.conf (deploy/image/containers.conf, through
 * CONTAINERS_CONF), so that every caller gets the same runtime and ulimits.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;

/** The containers.conf every Podman call of this repository uses. */
export const containersConf: string = `${root}deploy/image/containers.conf`;

/** The environment that makes Podman read {@linkcode containersConf}. */
export const podmanEnv: Record<string, string> = {
  CONTAINERS_CONF: containersConf,
};

/**
 * Runs `podman args...` and returns its trimmed stdout; throws a sentence
 * naming the command and Podman's stderr when it fails.
 */
export async function podman(args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("podman", {
      args,
      env: podmanEnv,
      stdin: "null",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "Cannot run podman: it is not installed. Install podman and runc (tools/bootstrap.sh does, as root).",
      );
    }
    throw err;
  }
  const dec = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(
      `podman ${args.join(" ")} exited with ${out.code}: ${
        dec.decode(out.stderr).trim()
      }`,
    );
  }
  return dec.decode(out.stdout).trim();
}

/** True when Podman has an image called `ref`. */
export async function imageExists(ref: string): Promise<boolean> {
  const { code } = await new Deno.Command("podman", {
    args: ["image", "exists", ref],
    env: podmanEnv,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return code === 0;
}
