/**
 * Generates the OTLP protobuf types in gen/ from the .proto files in proto/
 * with buf and protoc-gen-es (both from tools/npm/node_modules). Run it after
 * changing proto/: `deno run -A tools/gen.ts`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = `${root}tools/npm/node_modules/.bin`;

/**
 * Writes the generated TypeScript for proto/ into `outDir` (its previous
 * contents are replaced). buf.gen.yaml names the plugin and its options.
 */
export async function generate(outDir: string): Promise<void> {
  const staging = await Deno.makeTempDir({ prefix: "spanbridge-gen-" });
  try {
    const { code, stderr } = await new Deno.Command(`${bin}/buf`, {
      args: ["generate", "--template", "buf.gen.yaml", "-o", staging],
      cwd: root,
      env: { PATH: `${bin}:${Deno.env.get("PATH") ?? ""}` },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      const detail = new TextDecoder().decode(stderr).trim();
      throw new Error(
        `Cannot generate protobuf code: buf exited with code ${code}: ${detail}`,
      );
    }
    await Deno.remove(outDir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.rename(`${staging}/gen`, outDir);
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
}

if (import.meta.main) {
  await generate(`${root}gen`);
}
