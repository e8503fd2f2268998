/**
 * The agent image end to end with real containers: SDK-linked programs in
 * two containers of different images, at paths that do not exist on the
 * host, traced by the agent running in a third container with only
 * CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN added (no --privileged), the host's
 * pid namespace and bpffs; a fourth container runs a Go program without the
 * SDK. A receiver on loopback checks every span of every program.
 */
import assert from "node:assert/strict";
import { buildImage, imageRef } from "../tools/image.ts";
import { podman } from "../tools/podman.ts";
import {
  ebpfAvailable,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "./harness.ts";
import {
  agentCapabilities,
  type Container,
  ContainerScope,
  staticProgram,
} from "./containers.ts";
import { attributeMap, collectingReceiver, type ReceivedSpan } from "./otlp.ts";
import {
  assertSpans,
  type ShowcaseRecord,
  stopAndAssertNothingLost,
} from "./assert_spans.ts";

const canTrace = ebpfAvailable("container tests");

/** One SDK-linked program in a container of its own image. */
interface Target {
  service: string;
  /** Where the program is in its image (and nowhere on the host). */
  path: string;
  container?: Container;
  /** The host directory mounted at /out, where it writes its record. */
  out?: string;
}

/** Starts showcase at `target.path` in a container of an image of its own. */
async function startTarget(
  scope: ContainerScope,
  showcase: string,
  target: Target,
): Promise<void> {
  await assert.rejects(
    Deno.stat(target.path),
    Deno.errors.NotFound,
    `${target.path} exists on the host: the test needs a path only the container has`,
  );
  const image = await scope.image(target.service, {
    [target.path]: showcase,
  }, target.path);
  target.out = await Deno.makeTempDir({ prefix: "spanbridge-out-" });
  target.container = await scope.run(target.service, image, [
    `--env=OTEL_SERVICE_NAME=${target.service}`,
    `--volume=${target.out}:/out`,
  ], ["-wait-attach", "60s", "-record", "/out/record.json"]);
}

/** The spans of `target`'s process, checked to carry its identity. */
function spansOf(received: ReceivedSpan[], target: Target): ReceivedSpan[] {
  const mine = received.filter((r) =>
    attributeMap(r.resource).get("process.pid")?.intValue ===
      `${target.container!.pid}`
  );
  for (const r of mine) {
    const attrs = attributeMap(r.resource);
    assert.equal(
      attrs.get("service.name")?.stringValue,
      target.service,
      `service.name of a span of ${target.path}`,
    );
    // container.id arrives with container-aware resources; when a build has
    // them, they must name the container Podman reports.
    const containerId = attrs.get("container.id")?.stringValue;
    if (containerId !== undefined) {
      assert.equal(containerId, target.container!.id, "container.id");
    }
  }
  return mine;
}

const image = canTrace ? await buildImage() : imageRef;

Deno.test({
  name:
    "the agent image traces SDK-linked programs in two containers by host pid with three added capabilities",
  ignore: !canTrace,
  async fn() {
    const [showcase, plain] = await Promise.all([
      staticProgram("showcase"),
      staticProgram("plain"),
    ]);
    const scope = new ContainerScope("container");
    const pinRoot = testPinRoot("container");
    const receiver = await collectingReceiver();
    const targets: Target[] = [
      { service: "orders", path: "/srv/orders/orders" },
      { service: "billing", path: "/opt/billing/bin/billing" },
    ];
    let agent;
    try {
      await Promise.all(targets.map((t) => startTarget(scope, showcase, t)));
      const plainPath = "/usr/local/lib/plain/plain";
      const plainImage = await scope.image(
        "plain",
        { [plainPath]: plain },
        plainPath,
      );
      await scope.run("plain", plainImage, [], []);

      agent = scope.agent(image, [
        "run",
        ...targets.flatMap((t) => ["--pid", `${t.container!.pid}`]),
        "--pin-root",
        pinRoot,
        "--no-status",
      ], {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      });

      await agent.waitFor(
        "attached",
        60_000,
        (l) => l.path === targets[0].path,
      );
      await agent.waitFor(
        "attached",
        20_000,
        (l) => l.path === targets[1].path,
      );
      const caps = await podman([
        "inspect",
        "--format",
        "{{.HostConfig.Privileged}} {{.EffectiveCaps}}",
        scope.name("agent"),
      ]);
      assert.match(caps, /^false /, "the agent must not be privileged");
      for (const cap of agentCapabilities) assert.match(caps, new RegExp(cap));
      assert.doesNotMatch(caps, /CAP_SYS_PTRACE|CAP_SYS_MODULE/);

      const records: ShowcaseRecord[] = [];
      for (const t of targets) {
        assert.equal(
          await scope.wait(t.container!.name),
          0,
          `${t.path} exit code`,
        );
        records.push(
          JSON.parse(await Deno.readTextFile(`${t.out}/record.json`)),
        );
      }
      const total = records.reduce((n, r) => n + r.spans.length, 0);
      await waitUntil(
        () => receiver.spans.length >= total,
        30_000,
        `${total} spans at the receiver (have ${receiver.spans.length})`,
      );
      await stopAndAssertNothingLost(agent, total);
      targets.forEach((t, i) => {
        assertSpans(records[i], spansOf(receiver.spans, t), "protobuf", {
          service: t.service,
          executable: t.path.replace(/.*\//, ""),
        });
      });
      assert.equal(receiver.spans.length, total, "spans from other processes");
      assert.ok(
        !agent.logs.some((l) => l.msg === "attached" && l.path === plainPath),
        "the program without the SDK was attached",
      );
    } finally {
      if (agent) await stopIfRunning(agent);
      await scope.remove();
      await receiver.close();
      await removePinRoot(pinRoot);
      for (const t of targets) {
        if (t.out) await Deno.remove(t.out, { recursive: true });
      }
    }
  },
});
