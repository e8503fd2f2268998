/**
 * The results: the targets they are held against, the printed table and
 * bench/results.json.
 *
 * @module
 */

/** Flat numeric results, keyed as documented by each benchmark. */
export type Results = Record<string, number>;

/** A target: the key, the bound and its direction. */
export interface Target {
  /** The result it applies to. */
  key: string;
  /** "<=": at most the bound; ">=": at least. */
  op: "<=" | ">=";
  /** The bound. */
  bound: number;
}

/** The targets of issues 6, 11 and 22. */
export const targets: Target[] = [
  { key: "ratio_attached_vs_otel_sdk", op: "<=", bound: 0.5 },
  { key: "ratio_attached_vs_per_call", op: "<=", bound: 0.25 },
  { key: "ratio_detached_vs_noop", op: "<=", bound: 1.2 },
  { key: "pipeline_max_spans_per_s", op: ">=", bound: 200_000 },
  // Issue 22: spans and log records together (bench/pipeline.ts, mixed).
  { key: "pipeline_mixed_max_records_per_s", op: ">=", bound: 200_000 },
  // Issue 11: the node agent at scale (bench/scale.ts).
  { key: "scale_exec_to_attach_ms_p99", op: "<=", bound: 1000 },
  { key: "scale_cpu_idle_percent", op: "<=", bound: 1 },
  { key: "scale_spans_lost", op: "<=", bound: 0 },
  { key: "scale_rate_peak_vmhwm_mib", op: "<=", bound: 150 },
  { key: "scale_idle_rss_mib", op: "<=", bound: 100 },
];

/** Whether `value` meets `target`. */
export function meets(target: Target, value: number): boolean {
  return target.op === "<=" ? value <= target.bound : value >= target.bound;
}

function format(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 1 ? 2 : 4;
  return value.toFixed(digits);
}

/** The results as an aligned table, with the targets marked met or missed. */
export function formatTable(results: Results): string {
  const keys = Object.keys(results).sort();
  const width = Math.max(...keys.map((k) => k.length));
  const lines = keys.map((key) => {
    const target = targets.find((t) => t.key === key);
    const value = results[key];
    const mark = target
      ? `   target ${target.op} ${format(target.bound)}: ${
        meets(target, value) ? "met" : "MISSED"
      }`
      : "";
    return `${key.padEnd(width)}  ${format(value).padStart(14)}${mark}`;
  });
  return lines.join("\n");
}

/** Reads the results file, or an empty set when there is none yet. */
export function readResults(path: string): Results {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Writes the results, keys sorted, one per line. */
export function writeResults(path: string, results: Results): void {
  const sorted = Object.fromEntries(
    Object.keys(results).sort().map((k) => [k, results[k]]),
  );
  Deno.writeTextFileSync(path, JSON.stringify(sorted, null, 2) + "\n");
}
