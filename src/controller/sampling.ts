/**
 * Sampling per workload: each process gets a trace-id ratio, chosen once by
 * its executable or container, and the spans of the traces it drops are
 * taken out of its batches before they are queued. Sampled-out spans are
 * counted as such, never as losses.
 *
 * @module
 */
import { matchesGlob } from "node:path";
import {
  applyTraceIdRatio,
  type OtlpBatch,
  TraceIdRatio,
} from "../otlp/mod.ts";
import type { ProcessMeta } from "../export/mod.ts";
import { matchesContainer } from "../process/mod.ts";

/** Which processes a {@linkcode SamplingRule} applies to. */
export type SamplingSelector =
  /** Executable path glob, as the process sees the path (`*` within a path element, `**` across). */
  | { exe: string }
  /** Container id prefix (e.g. a 12-digit short id) or glob. */
  | { container: string };

/** One rule: processes the selector matches keep `ratio` of their traces. */
export interface SamplingRule {
  /** The processes. */
  selector: SamplingSelector;
  /** The ratio of traces kept, from 0 to 1. */
  ratio: number;
}

/** Sampling configuration: built and validated by the CLI, used as is. */
export interface SamplingOptions {
  /** The rules, in order: the first that matches a process decides its ratio. */
  rules: readonly SamplingRule[];
  /** The ratio of processes no rule matches (1: keep everything). */
  defaultRatio: number;
}

/** What sampling took out, in spans. */
export interface SamplingCounters {
  /** Spans of traces the process's ratio drops (not losses: asked for). */
  sampledOut: number;
}

/** True when `selector` matches the process `meta` describes. */
export function selects(
  selector: SamplingSelector,
  meta: ProcessMeta,
): boolean {
  if ("exe" in selector) {
    return meta.exePath !== undefined &&
      matchesGlob(meta.exePath, selector.exe);
  }
  return matchesContainer(selector.container, meta.containerId);
}

/** Applies {@linkcode SamplingOptions} to batches, counting what it drops. */
export class Sampler {
  readonly #options: SamplingOptions;
  readonly #default: TraceIdRatio;
  readonly #onChoose: (meta: ProcessMeta, rule: TraceIdRatio) => void;
  /**
   * The rule of each process, chosen once: ProcessMeta objects are made
   * once per process (src/controller/processes.ts) and forgotten with it.
   */
  readonly #chosen = new WeakMap<ProcessMeta, TraceIdRatio>();
  readonly #rules: TraceIdRatio[];
  readonly #counters: SamplingCounters = { sampledOut: 0 };

  /**
   * Samples by `options` (default: keep everything); `onChoose` hears the
   * ratio chosen for each process, once.
   */
  constructor(
    options: SamplingOptions = { rules: [], defaultRatio: 1 },
    onChoose: (meta: ProcessMeta, rule: TraceIdRatio) => void = () => {},
  ) {
    this.#options = options;
    this.#default = new TraceIdRatio(options.defaultRatio);
    this.#rules = options.rules.map((r) => new TraceIdRatio(r.ratio));
    this.#onChoose = onChoose;
  }

  /** The ratio rule of the process `meta` describes. */
  ruleFor(meta: ProcessMeta): TraceIdRatio {
    let rule = this.#chosen.get(meta);
    if (!rule) {
      const i = this.#options.rules.findIndex((r) => selects(r.selector, meta));
      rule = i < 0 ? this.#default : this.#rules[i];
      this.#chosen.set(meta, rule);
      this.#onChoose(meta, rule);
    }
    return rule;
  }

  /**
   * The spans of `batch` that the ratio of `meta`'s process keeps (the
   * batch itself when all are kept), or undefined when none are: then the
   * batch is released here.
   */
  apply(batch: OtlpBatch, meta: ProcessMeta): OtlpBatch | undefined {
    // Spans only: a log record's trace id is a field of another number,
    // and log records are not sampled (they pass as they came).
    if (batch.signal !== "traces") return batch;
    const rule = this.ruleFor(meta);
    if (rule.keepsAll) return batch;
    const { kept, sampledOut } = applyTraceIdRatio(batch, rule);
    this.#counters.sampledOut += sampledOut;
    if (!kept) batch.release();
    return kept;
  }

  /** A snapshot of the counters. */
  counters(): SamplingCounters {
    return { ...this.#counters };
  }
}
