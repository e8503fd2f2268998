/**
 * The agent image as a node agent: `run --all` in a container (host network
 * and pid namespace, bpffs, CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN added, no
 * --privileged) traces SDK-linked programs in containers of different images,
 * at paths that do not exist on the host, including one started after the
 * agent, and ignores a Go program without the SDK. Every span arrives once
 * with its service and the container.id Podman reports, also from a program
 * that claims another container's id and a pod (OTEL_RESOURCE_ATTRIBUTES).
 *
 * The agent is limited (--include-exe) to this test's own paths, so that it
 * leaves alone the processes of other tests on the same machine.
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
  waitUntil,
} from "../testing/harness.ts";
import {
  assertContainerSpans,
  checkoutAgentImage,
  ContainerScope,
  type ShowcaseContainer,
  showcaseRecord,
  startShowcase,
  staticProgram,
} from "../testing/containers.ts";
import {
  attributeMap,
  collectingReceiver,
  type ReceivedSpan,
} from "../testing/receiver.ts";
import { stopAndAssertNothingLost } from "../testing/assert_spans.ts";

const canTrace = ebpfAvailable("container --all tests");

/** OTEL_RESOURCE_ATTRIBUTES of a program posing as container `id` in pod payments-7d9f of namespace prod. */
function claims(id: string): string {
  return [
    `container.id=${id}`,
    "k8s.pod.uid=99999999-9999-4999-9999-999999999999",
    "k8s.namespace.name=prod",
    "k8s.pod.name=payments-7d9f",
  ].join(",");
}

/** No span carries a k8s.* attribute: none of these programs runs in a pod. */
function assertNoClaims(spans: ReceivedSpan[]): void {
  const claimed = new Set(
    spans.flatMap((s) =>
      [...attributeMap(s.resource).keys()].filter((k) => k.startsWith("k8s."))
    ),
  );
  assert.deepEqual([...claimed], [], "k8s.* attributes a program claimed");
}
const image = await checkoutAgentImage(canTrace);

Deno.test({
  name:
    "the agent image with --all traces SDK-linked programs in containers started before and after it, with their container.id, and ignores one without the SDK",
  ignore: !canTrace,
  async fn() {
    const [showcase, plain] = await Promise.all([
      staticProgram("showcase"),
      staticProgram("plain"),
    ]);
    const scope = new ContainerScope("container-all");
    const pinRoot = testPinRoot("container-all");
    const receiver = await collectingReceiver();
    // Paths only this test's containers have.
    const base = `/opt/spanbridge-e2e-${Deno.pid}`;
    const targets: ShowcaseContainer[] = [];
    let agent;
    try {
      targets.push(
        await startShowcase(scope, showcase, "orders", `${base}/orders/orders`),
      );
      // billing claims to be orders' container, in a pod of namespace prod:
      // its spans must carry its own container.id, and no pod or namespace
      // (Podman makes no pods).
      targets.push(
        await startShowcase(
          scope,
          showcase,
          "billing",
          `${base}/billing/bin/billing`,
          { OTEL_RESOURCE_ATTRIBUTES: claims(targets[0].container.id) },
        ),
      );
      const plainPath = `${base}/plain/plain`;
      const plainImage = await scope.image(
        "plain",
        { [plainPath]: plain },
        plainPath,
      );
      const idle = await scope.run("plain", plainImage, [], []);

      agent = scope.agent(image, [
        "run",
        "--all",
        "--include-exe",
        `${base}/**`,
        "--pin-root",
        pinRoot,
        "--no-status",
      ], {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      });
      for (const t of targets) {
        await agent.waitFor("attached", 60_000, (l) => l.path === t.path);
      }
      targets.push(
        await startShowcase(scope, showcase, "late", `${base}/late/late`),
      );
      await agent.waitFor(
        "attached",
        20_000,
        (l) => l.path === targets[2].path,
      );

      const records = await Promise.all(
        targets.map((t) => showcaseRecord(scope, t)),
      );
      const total = records.reduce((n, r) => n + r.spans.length, 0);
      await waitForSpans(
        receiver,
        total,
        30_000,
        `${total} spans at the receiver`,
        { agent },
      );
      await stopAndAssertNothingLost(agent, total);
      // By container.id alone: the late container may have exited before
      // Podman could be asked for its pid.
      assertContainerSpans(receiver.spans, targets, records, "container.id");
      assertNoClaims(receiver.spans);
      // Ignored: never attached, and nothing the agent logged names it.
      const aboutPlain = agent.logs.filter((l) =>
        l.path === plainPath || l.pid === idle.pid ||
        JSON.stringify(l).includes(plainPath)
      );
      assert.deepEqual(aboutPlain, [], "the program without the SDK");
    } finally {
      if (agent) await stopIfRunning(agent);
      await scope.remove();
      await receiver.close();
      await removePinRoot(pinRoot);
      for (const t of targets) await Deno.remove(t.out, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "--all on the host attaches once to a program already running in a container and keeps the link while it runs",
  ignore: !canTrace,
  async fn() {
    const hello = await staticProgram("hello");
    const scope = new ContainerScope("container-running");
    const pinRoot = testPinRoot("container-running");
    const receiver = await collectingReceiver();
    const path = `/opt/spanbridge-e2e-${Deno.pid}/running/hello`;
    let controller;
    try {
      const helloImage = await scope.image("hello", { [path]: hello }, path);
      // Runs (and makes spans) until stopped.
      const running = await scope.run("hello", helloImage, [], [
        "-rate",
        "50",
      ]);
      controller = new ControllerProcess([
        ...runAllArgs(path, pinRoot, "container-running"),
        "--log-level",
        "debug",
      ], { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
      await controller.waitFor("watching for new processes");
      await controller.waitFor("attached", 20_000, (l) => l.path === path);
      await waitUntil(
        () => receiver.spans.length >= 20,
        20_000,
        `spans of ${path} (have ${receiver.spans.length})`,
      );
      await delay(1_000);
      const c = controller;
      const about = (msg: string) =>
        c.logs.filter((l) => l.msg === msg && l.path === path);
      assert.equal(about("attached").length, 1, controller.dump());
      assert.deepEqual(about("detached"), [], controller.dump());
      assert.ok(
        receiver.spans.every((r) =>
          attributeMap(r.resource).get("container.id")?.stringValue ===
            running.id
        ),
        "every span carries the container.id",
      );
    } finally {
      if (controller) await stopIfRunning(controller);
      await scope.remove();
      await receiver.close();
      await removePinRoot(pinRoot);
    }
  },
});
