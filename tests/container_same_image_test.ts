/**
 * Containers of one image: `run --all`, on the host and as the agent image,
 * traces three containers that run the same binary of the same image (two
 * started before the controller, one after), and every span arrives
 * exactly once.
 *
 * Each container sees the image's file through its own overlay mount (its
 * own device), while the kernel puts a uprobe on the real file under the
 * overlays, which they share: one link per container would be three probes
 * on one file, each copying every record (seen on Kubernetes: four pods of
 * one image delivered each span four times).
 *
 * The controller is limited (--include-exe) to this test's own path.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  delay,
  ebpfAvailable,
  removePinRoot,
  runAllArgs,
  stopIfRunning,
  testPinRoot,
  waitForSpans,
} from "../testing/harness.ts";
import {
  assertContainerSpans,
  checkoutAgentImage,
  ContainerScope,
  type ShowcaseContainer,
  showcaseRecord,
  staticProgram,
} from "../testing/containers.ts";
import { collectingReceiver } from "../testing/receiver.ts";
import { stopAndAssertNothingLost } from "../testing/assert_spans.ts";

const canTrace = ebpfAvailable("container same-image tests");
const agentImage = await checkoutAgentImage(canTrace);

/**
 * Runs three showcase containers of one image (two before `controller` is
 * started by `startController` with `args`, one after) and asserts that
 * each span arrived once, through one link.
 */
async function traceThreeOfOneImage(
  tag: string,
  startController: (
    scope: ContainerScope,
    args: string[],
    env: Record<string, string>,
  ) => ControllerProcess,
): Promise<void> {
  const showcase = await staticProgram("showcase");
  const scope = new ContainerScope(tag);
  const pinRoot = testPinRoot(tag);
  const receiver = await collectingReceiver();
  const path = `/opt/spanbridge-e2e-${Deno.pid}/${tag}/showcase`;
  const targets: ShowcaseContainer[] = [];
  const outs: string[] = [];
  let controller: ControllerProcess | undefined;
  /**
   * Starts container `service` of the one image; it waits for the probe
   * and, its spans handed over, runs on for a moment as a service would.
   * The late one finds the probe already in place and would otherwise
   * exit within milliseconds of its exec, maybe before the controller has
   * read who it is (its container): then its spans carry its pid alone.
   */
  const start = async (image: string, service: string) => {
    const out = await Deno.makeTempDir({ prefix: "spanbridge-out-" });
    outs.push(out);
    const container = await scope.run(service, image, [
      `--env=OTEL_SERVICE_NAME=${service}`,
      `--volume=${out}:/out`,
    ], ["-wait-attach", "60s", "-record", "/out/record.json", "-linger", "2s"]);
    targets.push({ service, path, container, out });
  };
  try {
    const image = await scope.image("showcase", { [path]: showcase }, path);
    await start(image, "first");
    await start(image, "second");
    controller = startController(
      scope,
      runAllArgs(path, pinRoot, `samefile-${tag}`),
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    );
    await controller.waitFor("watching for new processes", 60_000);
    await start(image, "late");

    const records = await Promise.all(
      targets.map((t) => showcaseRecord(scope, t)),
    );
    const total = records.reduce((n, r) => n + r.spans.length, 0);
    await waitForSpans(receiver, total, 30_000, `${total} spans`, {
      controller,
    });
    // Copies would arrive with the originals: stopping after a moment
    // shows them in the counts.
    await delay(500);
    const ids = new Set(receiver.spans.map((r) => r.span.spanId));
    assert.equal(
      receiver.spans.length,
      ids.size,
      `spans received, against distinct span ids (${total} made)`,
    );
    await stopAndAssertNothingLost(controller, total);
    assertContainerSpans(receiver.spans, targets, records, "container.id");
    const c = controller;
    const attached = c.logs.filter((l) =>
      l.msg === "attached" && l.path === path
    );
    assert.equal(attached.length, 1, `one link:\n${c.dump()}`);
  } finally {
    if (controller) await stopIfRunning(controller);
    await scope.remove();
    await receiver.close();
    removePinRoot(pinRoot);
    for (const out of outs) await Deno.remove(out, { recursive: true });
  }
}

Deno.test({
  name:
    "--all on the host traces containers of one image through one link: every span arrives once",
  ignore: !canTrace,
  fn: () =>
    traceThreeOfOneImage(
      "same-image-host",
      (_scope, args, env) => new ControllerProcess(args, env),
    ),
});

Deno.test({
  name:
    "the agent image with --all traces containers of one image through one link: every span arrives once",
  ignore: !canTrace,
  fn: () =>
    traceThreeOfOneImage(
      "same-image-agent",
      (scope, args, env) =>
        scope.agent(agentImage, args, { ...env, OTEL_TRACES_EXPORTER: "otlp" }),
    ),
});
