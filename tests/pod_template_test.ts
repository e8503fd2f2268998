/**
 * The agent DaemonSet's pod template run for real with Podman: the chart is
 * rendered by the pinned Helm, decoded strictly into the k8s.io/api types,
 * and the agent container's image, command, arguments, environment
 * (downward API resolved), capabilities, user, seccomp, mounts and limits
 * become `podman run` arguments (tests/kubernetes PodmanRunArgs). That
 * container traces SDK-linked programs in two target containers (one
 * started before the agent, one after) through the gateway Collector
 * (k8sattributes in pass-through) to a receiver on loopback; every span
 * arrives with the container.id Podman reports, and the endpoint the
 * readiness probe gets turns ready.
 */
import assert from "node:assert/strict";
import { buildImage, checkoutImageRef } from "../tools/image.ts";
import { podman } from "../tools/podman.ts";
import {
  ebpfAvailable,
  removePinRoot,
  root,
  stopIfRunning,
  testPinRoot,
  waitForSpans,
  waitUntil,
} from "../testing/harness.ts";
import {
  assertContainerSpans,
  ContainerScope,
  type ShowcaseContainer,
  showcaseRecord,
  startShowcase,
  staticProgram,
} from "../testing/containers.ts";
import { buildCollector, CollectorProcess } from "../testing/collector.ts";
import { collectingReceiver, unusedPort } from "../testing/receiver.ts";
import { stopAndAssertNothingLost } from "../testing/assert_spans.ts";

const canTrace = ebpfAvailable("pod template test");
const image = checkoutImageRef();
if (canTrace) await buildImage(image);

/** The agent container of the chart rendered with `sets`, as Podman runs it. */
interface AgentPod {
  /** podman run options, the image and its arguments. */
  args: string[];
  /** The URL the readiness probe gets. */
  readiness: string;
}

async function renderAgentPod(sets: string[]): Promise<AgentPod> {
  const { code, stdout, stderr } = await new Deno.Command("go", {
    args: [
      "run",
      "./cmd/chart",
      "podman-run-args",
      "-node-name",
      Deno.hostname(),
      "-node-ip",
      "127.0.0.1",
      ...sets.flatMap((s) => ["-set", s]),
    ],
    cwd: `${root}tests/kubernetes`,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  assert.equal(code, 0, `chart podman-run-args: ${dec.decode(stderr)}`);
  return JSON.parse(dec.decode(stdout));
}

Deno.test({
  name:
    "the chart's agent pod template runs under Podman: spans of two containers arrive through the gateway with their container.id, and it turns ready",
  ignore: !canTrace,
  async fn() {
    const [showcase] = await Promise.all([
      staticProgram("showcase"),
      buildCollector(),
    ]);
    const scope = new ContainerScope("pod-template");
    const pinRoot = testPinRoot("pod-template");
    const receiver = await collectingReceiver();
    const telemetryPort = unusedPort();
    // Paths only the target containers have, under one directory unique to
    // this test, so the agent's --all leaves other processes on the host alone.
    const dir = `/srv/${scope.name("targets")}`;
    const targets: ShowcaseContainer[] = [];
    let gateway: CollectorProcess | undefined;
    let agent;
    try {
      gateway = CollectorProcess.gateway(unusedPort(), receiver.endpoint);
      await gateway.ready(30_000);
      const pod = await renderAgentPod([
        `agent.image.tag=${image.replace(/.*:/, "")}`,
        `agent.otlpEndpoint=http://${gateway.listen}`,
        `agent.telemetry.port=${telemetryPort}`,
        `agent.env.SPANBRIDGE_INCLUDE_EXE=${dir}/**`,
        // This test's own bpffs directory: the agent's /sys/fs/bpf.
        `agent.bpffsHostPath=${pinRoot}`,
      ]);
      assert.ok(pod.args.includes(image), `${image} in ${pod.args}`);
      assert.ok(pod.args.includes("--all"), `--all in ${pod.args}`);

      targets.push(
        await startShowcase(scope, showcase, "orders", `${dir}/orders`),
      );
      // The kubelet makes a DirectoryOrCreate host path; Podman does not.
      await Deno.mkdir(pinRoot, { mode: 0o755 });
      agent = scope.foreground("agent", pod.args);
      await waitUntil(
        async () => {
          try {
            return (await fetch(pod.readiness)).status === 200;
          } catch {
            return false;
          }
        },
        60_000,
        `${pod.readiness} to answer 200`,
      ).catch((err) => {
        throw new Error(`${err.message}; agent:\n${agent!.dump()}`);
      });
      targets.push(
        await startShowcase(scope, showcase, "billing", `${dir}/bin/billing`),
      );

      const records = await Promise.all(
        targets.map((t) => showcaseRecord(scope, t)),
      ).catch(async (err) => {
        const logs = await Promise.all(
          targets.map((t) => podman(["logs", t.container.name]).catch(String)),
        );
        throw new Error(
          `${err.message}\ntargets:\n${logs.join("\n")}\nagent:\n${
            agent!.dump()
          }`,
        );
      });
      const total = records.reduce((n, r) => n + r.spans.length, 0);
      await waitForSpans(
        receiver,
        total,
        30_000,
        `${total} spans at the receiver`,
        {
          agent,
          gateway,
        },
      );
      const ready = await fetch(pod.readiness);
      assert.equal(ready.status, 200, await ready.text());
      await stopAndAssertNothingLost(agent, total);
      assertContainerSpans(receiver.spans, targets, records, "container.id");
    } finally {
      if (agent) await stopIfRunning(agent);
      await gateway?.stop();
      await scope.remove();
      await receiver.close();
      await removePinRoot(pinRoot);
      for (const t of targets) await Deno.remove(t.out, { recursive: true });
    }
  },
});
