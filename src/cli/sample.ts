/**
 * The `--sample` syntax (and SPANBRIDGE_SAMPLE): per-workload trace-id
 * ratios, read once into the controller's {@linkcode SamplingOptions}.
 *
 * @module
 */
import type {
  SamplingOptions,
  SamplingRule,
  SamplingSelector,
} from "../controller/mod.ts";
import { UsageError } from "../errors.ts";

/** How a `--sample` value is written, for error messages and help. */
export const sampleSyntax =
  "exe:<glob>=<ratio>, container:<id>=<ratio> or <ratio> (the default)";

/**
 * Reads `--sample` values (or SPANBRIDGE_SAMPLE's comma-separated items,
 * `source` naming which for errors): `exe:<glob>=<ratio>` and
 * `container:<id-prefix or glob>=<ratio>` rules, first match wins, and at
 * most one bare `<ratio>` for the processes no rule matches (default 1).
 * A ratio is a number from 0 (keep no trace) to 1 (keep every trace).
 *
 * @example
 * ```ts
 * parseSampling(["exe:/app/**=0.1", "container:3f2a9c=0", "0.5"], "--sample");
 * // { rules: [{ selector: { exe: "/app/**" }, ratio: 0.1 }, ...], defaultRatio: 0.5 }
 * ```
 */
export function parseSampling(
  items: readonly string[],
  source: string,
): SamplingOptions {
  const rules: SamplingRule[] = [];
  let defaultRatio: number | undefined;
  for (const item of items) {
    const text = item.trim();
    const eq = text.lastIndexOf("=");
    if (eq < 0) {
      if (defaultRatio !== undefined) {
        throw new UsageError(
          `Invalid ${source} "${item}": the default ratio is given twice (${defaultRatio} and ${text}); give one bare <ratio>.`,
        );
      }
      defaultRatio = ratioOf(text, item, source);
      continue;
    }
    const selector = selectorOf(text.slice(0, eq), item, source);
    rules.push({ selector, ratio: ratioOf(text.slice(eq + 1), item, source) });
  }
  return { rules, defaultRatio: defaultRatio ?? 1 };
}

function selectorOf(
  text: string,
  item: string,
  source: string,
): SamplingSelector {
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon);
  const value = text.slice(colon + 1);
  if (colon > 0 && value !== "") {
    if (kind === "exe") return { exe: value };
    if (kind === "container") return { container: value };
  }
  throw new UsageError(
    `Invalid ${source} "${item}": expected ${sampleSyntax}.`,
  );
}

function ratioOf(text: string, item: string, source: string): number {
  const ratio = Number(text);
  if (text.trim() === "" || !(ratio >= 0 && ratio <= 1)) {
    throw new UsageError(
      `Invalid ${source} "${item}": the ratio "${text}" is not a number from 0 (keep no trace) to 1 (keep every trace).`,
    );
  }
  return ratio;
}
