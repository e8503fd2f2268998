/**
 * The agent image end to end with real containers: SDK-linked programs in
 * two containers of different images, at paths that do not exist on the
 * host, traced by the agent running in a third container with only
 * CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN added (no --privileged), the host's
 * pid namespace and bpffs, while a fourth container runs a Go program
 * without the SDK. A receiver on loopback checks every span of every program.
 */
import assert from "node:assert/strict";
import { buildImage, checkoutImageRef } from "../tools/image.ts";
import { podman } from "../tools/podman.ts";
import {
  type ControllerProcess,
  ebpfAvailable,
  removePinRoot,
  root,
  stopIfRunning,
  testPinRoot,
  waitForSpans,
} from "../testing/harness.ts";
import {
  agentCapabilities,
  assertContainerSpans,
  ContainerScope,
  type ShowcaseContainer,
  showcaseRecord,
  startShowcase,
  staticProgram,
} from "../testing/containers.ts";
import { collectingReceiver } from "../testing/receiver.ts";
import { stopAndAssertNothingLost } from "../testing/assert_spans.ts";

const canTrace = ebpfAvailable("container tests");
const image = checkoutImageRef();
if (canTrace) await buildImage(image);

Deno.test({
  name:
    "the image task prints the reference alone on its last line, rebuilds nothing unchanged, tags another reference of the same inputs without building, and the image runs spanbridge offline",
  ignore: !canTrace,
  async fn() {
    const id = (ref: string) =>
      podman(["image", "inspect", "--format", "{{.Id}}", ref]);
    const before = await id(image);
    const task = async (ref: string) => {
      const { code, stdout, stderr } = await new Deno.Command(
        Deno.execPath(),
        { args: ["run", "-A", `${root}tools/image.ts`, ref] },
      ).output();
      const dec = new TextDecoder();
      assert.equal(code, 0, dec.decode(stderr));
      assert.equal(dec.decode(stdout).trimEnd().split("\n").at(-1), ref);
      return dec.decode(stderr);
    };
    assert.match(await task(image), /is up to date/);
    assert.equal(await id(image), before, "the image was rebuilt");
    // Another checkout's reference, as a parallel checkout makes it.
    const other = `${image}-other-${Deno.pid}`;
    try {
      assert.match(await task(other), /same inputs/);
      assert.equal(await id(other), before, "another image was built");
      assert.equal(await id(image), before, "this checkout's image changed");
    } finally {
      await podman(["rmi", other]).catch(() => {});
    }
    assert.equal(
      await podman([
        "image",
        "inspect",
        "--format",
        "{{.Config.Entrypoint}}",
        image,
      ]),
      "[/usr/local/bin/spanbridge]",
    );
    const help = await podman([
      "run",
      "--rm",
      "--network=none",
      image,
      "--help",
    ]);
    assert.match(help, /^spanbridge .*\n\nUsage:/);
  },
});

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
    const targets: ShowcaseContainer[] = [];
    let agent: ControllerProcess | undefined;
    try {
      targets.push(
        await startShowcase(scope, showcase, "orders", "/srv/orders/orders"),
        await startShowcase(
          scope,
          showcase,
          "billing",
          "/opt/billing/bin/billing",
        ),
      );
      const plainPath = "/usr/local/lib/plain/plain";
      const plainImage = await scope.image(
        "plain",
        { [plainPath]: plain },
        plainPath,
      );
      await scope.run("plain", plainImage, [], []);

      agent = scope.agent(image, [
        "run",
        ...targets.flatMap((t) => ["--pid", `${t.container.pid}`]),
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
      const caps = await podman([
        "inspect",
        "--format",
        "{{.HostConfig.Privileged}} {{.EffectiveCaps}}",
        scope.name("agent"),
      ]);
      assert.match(caps, /^false /, "the agent must not be privileged");
      for (const cap of agentCapabilities) assert.match(caps, new RegExp(cap));
      assert.doesNotMatch(caps, /CAP_SYS_PTRACE|CAP_SYS_MODULE/);

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
      assertContainerSpans(receiver.spans, targets, records, "pid");
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
    "the agent in a container, denied a process it may not inspect, says to add CAP_SYS_PTRACE",
  ignore: !canTrace,
  async fn() {
    // The host's init has every capability: a container without
    // CAP_SYS_PTRACE may not read its /proc entries, even as root.
    await assert.rejects(
      podman([
        "run",
        "--rm",
        "--network=host",
        "--pid=host",
        `--cap-add=${agentCapabilities.join(",")}`,
        "--volume=/sys/fs/bpf:/sys/fs/bpf",
        image,
        "run",
        "--pid",
        "1",
        "--no-status",
      ]),
      /Cannot inspect process 1: permission denied; spanbridge runs in a container: give it CAP_SYS_PTRACE/,
    );
  },
});
