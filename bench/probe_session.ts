/**
 * The probe attached at a chosen offset from ended's entry, without the
 * controller: the controller always attaches at the entry (the 5-byte NOP,
 * which kernels 6.18+ turn into a call), so to measure an ordinary int3
 * uprobe this module attaches the same program at entry + 5, the RET, where
 * the stack is unchanged and the probe reads the same arguments. It drains
 * and decodes the ring as the controller does, without exporting.
 *
 * @module
 */
import { openProbe } from "../src/probe/mod.ts";
import { resolveTarget } from "../src/process/mod.ts";
import { Decoder } from "../src/decode/mod.ts";
import { createSink, readExportConfig } from "../src/export/mod.ts";
import { silentLogger } from "../src/log.ts";

/** Bytes from ended's entry to its RET on x86_64 (the NOP's length). */
export const retOffset = 5;

/** Options of {@linkcode startProbeSession}. */
export interface ProbeSessionOptions {
  /** The executable to attach to. */
  exe: string;
  /** Added to ended's file offset. */
  offsetDelta: number;
  /** The bpffs directory for this benchmark run's pins. */
  pinRoot: string;
  /** The instance name (pin directory under pinRoot). */
  instance: string;
  /** Where spans are exported (OTLP/HTTP traces URL). */
  endpoint: string;
}

/** What a session saw. */
export interface SessionCounters {
  /** Spans decoded from the ring. */
  received: number;
  /** Spans exported. */
  exported: number;
  /** Records lost in the kernel (ring full, oversize, unreadable). */
  recordsLost: number;
  /** Records that failed to decode. */
  recordsCorrupt: number;
}

/** An attached probe whose ring is being drained. */
export interface ProbeSession {
  /** The probe program in use ("dynptr" or "classes"). */
  kind: string;
  /** Detaches, drains what is left, removes the pins and returns the counters. */
  stop(): Promise<SessionCounters>;
}

/** Loads the probe, attaches it at ended's offset + `offsetDelta` and starts draining. */
export async function startProbeSession(
  options: ProbeSessionOptions,
): Promise<ProbeSession> {
  const binary = await resolveTarget(options.exe);
  if (options.offsetDelta !== 0 && binary.arch !== "x86_64") {
    throw new Error(
      `Cannot attach at ended + ${options.offsetDelta}: ${options.exe} is ${binary.arch}, and only the x86_64 layout (5-byte NOP, then RET) is known.`,
    );
  }
  const probe = await openProbe({
    pinRoot: options.pinRoot,
    name: options.instance,
  });
  const decoder = new Decoder({ maxPayloadBytes: probe.maxRecordBytes });
  const sink = createSink(
    readExportConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: options.endpoint }),
    { log: silentLogger },
  );
  const drain = () =>
    probe.reader.drain((record) => {
      const decoded = decoder.decode(record);
      if (decoded) sink.add(decoded.batch, { pid: decoded.header.tgid });
    });
  try {
    const attachment = probe.attach(
      binary.path,
      binary.endedOffset + options.offsetDelta,
    );
    let stopping = false;
    const loop = (async () => {
      while (!stopping) {
        await probe.reader.wait(100);
        drain();
      }
    })();
    return {
      kind: probe.kind,
      stop: async () => {
        stopping = true;
        await loop;
        attachment.detach();
        drain();
        const c = probe.counters();
        const d = decoder.counters();
        probe.close();
        await sink.shutdown();
        return {
          received: d.spans,
          exported: sink.counters().exported,
          recordsLost: c.ringFull + c.oversize + c.readFaults,
          recordsCorrupt: d.corrupt,
        };
      },
    };
  } catch (err) {
    probe.close();
    await sink.shutdown();
    throw err;
  }
}
