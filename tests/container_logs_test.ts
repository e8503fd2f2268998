/**
 * Log records from a container, traced by the agent image with `run --all`
 * (as the README runs it: host network and pid namespace, bpffs, CAP_BPF,
 * CAP_PERFMON and CAP_SYS_ADMIN, no --privileged): testing/slog (log/slog
 * through otelslog over spanbridge's LoggerProvider) in a container of an
 * image of its own, at a path that does not exist on the host, delivers
 * every record it logged, record by record (testing/slog_program.ts), with
 * the trace id and span id of the span it was written in and, as its
 * resource, exactly its spans' resource, which carries the container.id
 * Podman reports; the agent's `stopped` line balances for both signals.
 *
 * The agent is limited (--include-exe) to this test's own path, so that it
 * leaves alone the processes of other tests on the same machine.
 */
import assert from "node:assert/strict";
import { stringAttribute } from "../src/otlp/mod.ts";
import {
  ebpfAvailable,
  removePinRoot,
  runAllArgs,
  stopIfRunning,
  testPinRoot,
} from "../testing/harness.ts";
import {
  checkoutAgentImage,
  ContainerScope,
  staticProgram,
} from "../testing/containers.ts";
import {
  slogRecordCount,
  SlogSink,
  stopAndAssertBothSignals,
} from "../testing/slog_program.ts";

const canTrace = ebpfAvailable("container logs test");
const image = await checkoutAgentImage(canTrace);

Deno.test({
  name:
    "the agent image with --all delivers every slog record of a program in a container with its span's ids and the container.id on its resource; the stopped line balances for both signals",
  ignore: !canTrace,
  async fn() {
    const spans = 100;
    const records = slogRecordCount(spans);
    const program = await staticProgram("slog");
    const scope = new ContainerScope("container-logs");
    const pinRoot = testPinRoot("container-logs");
    const sink = await SlogSink.start();
    const receiver = sink.receiver;
    const path = `/opt/spanbridge-e2e-${Deno.pid}/logs/slog`;
    const out = await Deno.makeTempDir({ prefix: "spanbridge-out-" });
    let agent;
    try {
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
      const programImage = await scope.image("slog", { [path]: program }, path);
      const target = await scope.run("slog", programImage, [
        "--env=OTEL_SERVICE_NAME=orders-logs",
        `--volume=${out}:/out`,
      ], [
        "-wait-attach",
        "60s",
        "-n",
        `${spans}`,
        "-record",
        "/out/record.json",
      ]);
      agent = scope.agent(
        image,
        runAllArgs(path, pinRoot, "logsreal-container-logs"),
        {
          OTEL_TRACES_EXPORTER: "otlp",
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.addr}`,
        },
      );
      await agent.waitFor("attached", 60_000, (l) => l.path === path);
      assert.equal(await scope.wait(target.name), 0, `${path} exited`);
      const a = agent;
      await sink.waitForBoth(
        spans,
        records,
        30_000,
        "",
        () => `agent:\n${a.dump()}`,
      );
      await stopAndAssertBothSignals(agent, spans, records);

      const { resource } = await sink.assertRecords(
        `${out}/record.json`,
        records,
      );
      assert.equal(
        stringAttribute(resource.attributes, "container.id"),
        target.id,
        "container.id of the spans",
      );
      assert.equal(
        stringAttribute(resource.attributes, "service.name"),
        "orders-logs",
      );
    } finally {
      if (agent) await stopIfRunning(agent);
      await scope.remove();
      await sink.close();
      await removePinRoot(pinRoot);
      await Deno.remove(out, { recursive: true });
    }
  },
});
