import assert from "node:assert/strict";
import { accessAdvice, runsInContainer } from "./self.ts";

Deno.test("runsInContainer reads a container from the cgroup path, a runtime's marker file or Kubernetes variables", () => {
  const dir = Deno.makeTempDirSync({ prefix: "spanbridge-self-" });
  try {
    const id = "a".repeat(64);
    const paths = (cgroup: string, markers: string[] = []) => {
      Deno.writeTextFileSync(`${dir}/cgroup`, cgroup);
      return { cgroup: `${dir}/cgroup`, markers };
    };
    const none = () => undefined;
    assert.equal(runsInContainer(paths("0::/user.slice\n"), none), false);
    assert.equal(
      runsInContainer(paths(`4:pids:/libpod_parent/libpod-${id}\n`), none),
      true,
    );
    Deno.writeTextFileSync(`${dir}/.containerenv`, "");
    assert.equal(
      runsInContainer(paths("0::/\n", [`${dir}/.containerenv`]), none),
      true,
    );
    assert.equal(
      runsInContainer(
        paths("0::/\n"),
        (n) => n === "KUBERNETES_SERVICE_HOST" ? "10.0.0.1" : undefined,
      ),
      true,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("accessAdvice says CAP_SYS_PTRACE in a container and root or the owner on a host", () => {
  assert.match(accessAdvice(true), /--cap-add=CAP_SYS_PTRACE/);
  assert.match(accessAdvice(false), /as root or as the user who owns/);
});
