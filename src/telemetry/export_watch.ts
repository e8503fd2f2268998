/**
 * Watches the exporters from outside: how long each export call takes and,
 * per signal, since when exports have been failing, without the export
 * queues knowing.
 *
 * @module
 */
import type { Exporter, ExportOutcome } from "../export/mod.ts";
import type { Signal } from "../otlp/mod.ts";

/** What readiness needs to know about export. */
export interface ExportHealth {
  /**
   * The signals whose exports are failing, each with when (ms since the
   * epoch) the first of its calls that have failed since its last success
   * started; empty while exports succeed or none was made yet.
   */
  failing(): ReadonlyMap<Signal, number>;
}

/** One finished export call. */
export interface ExportCall {
  /** The exporter's `otel.component.type` (e.g. otlp_http_span_exporter). */
  component: string;
  /** Its duration, retries included, in seconds. */
  seconds: number;
  /** Spans or log records in the request. */
  items: number;
  /** Why it failed (`retryable` or `refused`); undefined when it was delivered. */
  errorType?: "retryable" | "refused";
}

/** Wraps exporters to time their calls and track failures per signal. */
export class ExportWatch implements ExportHealth {
  readonly #onCall: (call: ExportCall) => void;
  readonly #now: () => number;
  readonly #failing = new Map<Signal, number>();

  /** `onCall` sees every finished export call; `now` is the clock (tests). */
  constructor(
    onCall: (call: ExportCall) => void = () => {},
    now: () => number = Date.now,
  ) {
    this.#onCall = onCall;
    this.#now = now;
  }

  /** See {@linkcode ExportHealth.failing}. */
  failing(): ReadonlyMap<Signal, number> {
    return this.#failing;
  }

  /**
   * The same exporter of `signal`, watched, its calls recorded under
   * `component` (its `otel.component.type`); undefined stays undefined (no
   * exporter: the signal is discarded, nothing can fail).
   */
  wrap(
    exporter: Exporter | undefined,
    signal: Signal,
    component: string,
  ): Exporter | undefined {
    if (!exporter) return undefined;
    return {
      export: async (request) => {
        const started = this.#now();
        const outcome = await exporter.export(request);
        this.#record(signal, component, started, request.items, outcome);
        return outcome;
      },
      shutdown: () => exporter.shutdown(),
    };
  }

  #record(
    signal: Signal,
    component: string,
    started: number,
    items: number,
    outcome: ExportOutcome,
  ): void {
    const seconds = (this.#now() - started) / 1000;
    if (outcome.ok) {
      // A partial refusal is still an answer: the receiver is reachable.
      this.#failing.delete(signal);
      this.#onCall({ component, seconds, items });
      return;
    }
    if (!this.#failing.has(signal)) this.#failing.set(signal, started);
    this.#onCall({
      component,
      seconds,
      items,
      errorType: outcome.retryable ? "retryable" : "refused",
    });
  }
}
