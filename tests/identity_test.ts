/**
 * Identity from the kernel wins (issue 20, item 6): a process on the host
 * that claims a container, a pod, a namespace and another host through
 * OTEL_RESOURCE_ATTRIBUTES is exported by `run --all` with none of those
 * claims: no container.id (it runs in none), no k8s.* (the gateway's
 * k8sattributes sets those from the API server, and never overwrites one
 * already set), and the agent's own host.name and process.pid.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  runAllArgs,
  stopIfRunning,
  testPinRoot,
  waitForSpans,
} from "../testing/harness.ts";
import { attributeMap, collectingReceiver } from "../testing/receiver.ts";
import { startHello } from "../testing/hello.ts";

Deno.test({
  name:
    "--all exports a host process that claims another container, pod, namespace and host with the kernel's identity only",
  ignore: !ebpfAvailable("identity"),
  async fn() {
    const receiver = await collectingReceiver();
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("identity");
    let controller: ControllerProcess | undefined;
    try {
      controller = new ControllerProcess(
        runAllArgs(hello.exe, pinRoot, "identity"),
        { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
      );
      await controller.waitFor("watching for new processes");
      const run = startHello(hello.exe, {
        rate: 20,
        durationMs: 1000,
        env: {
          OTEL_RESOURCE_ATTRIBUTES: [
            `container.id=${"cd".repeat(32)}`,
            "k8s.pod.uid=99999999-9999-4999-9999-999999999999",
            "k8s.namespace.name=prod",
            "k8s.pod.name=payments-7d9f",
            "host.name=payments-node",
            "deployment.environment.name=prod",
          ].join(","),
        },
      });
      const { pid } = await run.done;
      await waitForSpans(receiver, 1, 20_000, "spans of hello", {
        controller,
      });
      for (const span of receiver.spans) {
        const attrs = attributeMap(span.resource);
        assert.deepEqual(
          [...attrs.keys()].filter((k) => /^(container|k8s)\./.test(k)),
          [],
          "claimed container and pod attributes",
        );
        assert.equal(attrs.get("host.name")?.stringValue, Deno.hostname());
        assert.equal(attrs.get("process.pid")?.intValue, `${pid}`);
        // What does not say where it runs stays the program's own.
        assert.equal(
          attrs.get("deployment.environment.name")?.stringValue,
          "prod",
        );
      }
    } finally {
      if (controller) await stopIfRunning(controller);
      await receiver.close();
      await hello.remove();
      removePinRoot(pinRoot);
    }
  },
});
