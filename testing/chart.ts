/**
 * The Helm chart's rendered Collector configurations, for tests that run
 * them (tests/gateway_test.ts): `helm template` through tests/kubernetes'
 * chart command, which decodes the output strictly first.
 *
 * @module
 */
import { root } from "./harness.ts";
import type { Json } from "./receiver.ts";

/**
 * The data of every ConfigMap of the chart rendered with `values` (written
 * to a values file) and `sets` (helm --set), each Collector configuration
 * parsed: `{ "<ConfigMap name>": { "<key>": {...} } }`.
 */
export async function chartConfigs(
  values: Json = {},
  sets: string[] = [],
): Promise<Record<string, Record<string, Json>>> {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(values));
    const { code, stdout, stderr } = await new Deno.Command("go", {
      args: [
        "run",
        "./cmd/chart",
        "configmaps",
        "-values",
        file,
        ...sets.flatMap((s) => ["-set", s]),
      ],
      cwd: `${root}tests/kubernetes`,
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    if (code !== 0) {
      throw new Error(
        `rendering the chart failed: ${dec.decode(stdout)}${
          dec.decode(stderr)
        }`,
      );
    }
    return JSON.parse(dec.decode(stdout));
  } finally {
    await Deno.remove(file);
  }
}

/**
 * Writes a Collector configuration to a temporary file (JSON is YAML) and
 * returns the --config argument naming it; the caller removes `file`.
 */
export async function configFile(
  config: Json,
): Promise<{ arg: string; file: string }> {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, JSON.stringify(config));
  return { arg: `--config=file:${file}`, file };
}
