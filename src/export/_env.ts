/**
 * Readers of the numbers in the export's environment variables, shared by
 * the queue settings (config.ts) and the OTLP transport settings
 * (otlp_transport.ts) so that both refuse the same bad input in the same
 * words.
 *
 * @module
 */

/** An environment: variable names to values. */
export type Env = Record<string, string | undefined>;

/** A variable's trimmed value, undefined when unset or blank. */
export type EnvReader = (name: string) => string | undefined;

/** The reader of `env`: blank values count as unset, as the OTel specification says. */
export function envReader(env: Env): EnvReader {
  return (name) => env[name]?.trim() || undefined;
}

/** The longest duration accepted, ms: an hour (timers overflow past ~24.8 days). */
export const maxMillis = 3_600_000;

/**
 * The positive integer in variable `name`, `fallback` when unset; throws an
 * Error naming the variable when it is not one or exceeds `max`.
 */
export function positiveInteger(
  get: EnvReader,
  name: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  // Digits only: Number() would also take "1e3", "0x10" and "1e20".
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!(n > 0)) {
    throw new Error(`Invalid ${name}: "${raw}" is not a positive integer`);
  }
  if (n > max) {
    throw new Error(`Invalid ${name}: ${raw} exceeds the maximum of ${max}`);
  }
  return n;
}
