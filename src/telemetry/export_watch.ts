/**
 * Watches the span exporter from outside: how long each export call takes
 * and since when exports have been failing, without the export queue knowing.
 *
 * @module
 */
import type { ExportOutcome, SpanExporter } from "../export/mod.ts";

/** What readiness needs to know about export. */
export interface ExportHealth {
  /**
   * When (ms since the epoch) the first of the export calls that have
   * failed since the last success started; undefined while exports succeed
   * or none was made yet.
   */
  failingSince(): number | undefined;
}

/** One finished export call. */
export interface ExportCall {
  /** Its duration, retries included, in seconds. */
  seconds: number;
  /** Spans in the request. */
  spans: number;
  /** Why it failed (`retryable` or `refused`); undefined when it was delivered. */
  errorType?: "retryable" | "refused";
}

/** Wraps span exporters to time their calls and track failures. */
export class ExportWatch implements ExportHealth {
  readonly #onCall: (call: ExportCall) => void;
  readonly #now: () => number;
  #failingSince: number | undefined;

  /** `onCall` sees every finished export call; `now` is the clock (tests). */
  constructor(
    onCall: (call: ExportCall) => void = () => {},
    now: () => number = Date.now,
  ) {
    this.#onCall = onCall;
    this.#now = now;
  }

  /** See {@linkcode ExportHealth.failingSince}. */
  failingSince(): number | undefined {
    return this.#failingSince;
  }

  /**
   * The same exporter, watched; undefined stays undefined (no exporter:
   * spans are discarded, nothing can fail).
   */
  wrap(exporter: SpanExporter | undefined): SpanExporter | undefined {
    if (!exporter) return undefined;
    return {
      export: async (request) => {
        const started = this.#now();
        const outcome = await exporter.export(request);
        this.#record(started, request.items, outcome);
        return outcome;
      },
      shutdown: () => exporter.shutdown(),
    };
  }

  #record(started: number, spans: number, outcome: ExportOutcome): void {
    const seconds = (this.#now() - started) / 1000;
    if (outcome.ok) {
      // A partial refusal is still an answer: the receiver is reachable.
      this.#failingSince = undefined;
      this.#onCall({ seconds, spans });
      return;
    }
    this.#failingSince ??= started;
    this.#onCall({
      seconds,
      spans,
      errorType: outcome.retryable ? "retryable" : "refused",
    });
  }
}
