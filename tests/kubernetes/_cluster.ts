/**
 * A single-node Kubernetes on this machine, on 127.0.0.1 only, for the
 * chart's end-to-end test: etcd and containerd (Debian packages, installed
 * by `tools/bootstrap.sh kubernetes`), runc, and kube-apiserver,
 * kube-controller-manager, kube-scheduler and kubelet built from
 * k8s.io/kubernetes (tools/kubernetes_build.sh, cached under
 * build/kubernetes/<version>).
 *
 * Everything it makes lives under one directory of its own
 * (/var/lib/spanbridge-k8s-<pid>): etcd's data, containerd's root, state and
 * socket, the kubelet's root, pod logs and certificates. No image registry
 * is reachable, so images come from Podman (`podman save`) into containerd
 * (`ctr images import`), the pod sandbox's pause image is a static Go binary
 * (tests/kubernetes/cmd/pause), and pods use `imagePullPolicy: Never`.
 * Pods not on the host network get an address on a bridge of the
 * cluster's own (the CNI bridge and host-local plugins that come with
 * Podman): the host reaches them there, and they reach the host at
 * {@linkcode Cluster.podGateway}. No kube-proxy and no cluster DNS: Service
 * IPs are not routed and Service names do not resolve; a headless
 * Service's EndpointSlices list its pods' addresses.
 *
 * {@linkcode Cluster.stop} tears it all down: pods deleted, processes
 * stopped (containerd's shims included), mounts undone, the directory and the
 * kubelet's cgroups removed.
 *
 * @module
 */
import { podman } from "../../tools/podman.ts";
import { root, waitUntil } from "../../testing/harness.ts";
import { unusedPort } from "../../testing/receiver.ts";
import { importFilesImage } from "../../testing/containers.ts";

/** The Kubernetes release the cluster runs (see tools/kubernetes_build.sh). */
export const kubernetesVersion = "v1.37.2";

/** The pause image containerd starts every pod sandbox from. */
const pauseImage = "localhost/spanbridge-e2e-pause:1";

const dec = new TextDecoder();

/** Runs `cmd args...`; returns stdout; throws with its output when it fails. */
export async function sh(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
  }).output();
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited with ${out.code}:\n${
        dec.decode(out.stdout)
      }${dec.decode(out.stderr)}`,
    );
  }
  return dec.decode(out.stdout);
}

/** A component of the cluster: a child process whose output goes to a log file. */
class Component {
  readonly name: string;
  readonly log: string;
  readonly child: Deno.ChildProcess;
  status?: Deno.CommandStatus;

  constructor(dir: string, name: string, cmd: string, args: string[]) {
    this.name = name;
    this.log = `${dir}/logs/${name}.log`;
    const file = Deno.openSync(this.log, {
      write: true,
      create: true,
      truncate: true,
    });
    this.child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = file.writable.getWriter();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) await writer.write(chunk);
    };
    Promise.all([pump(this.child.stdout), pump(this.child.stderr)])
      .finally(() => writer.close().catch(() => {}));
    this.child.status.then((s) => this.status = s);
  }

  /** Throws, with the end of its log, if it has exited. */
  assertRunning(): void {
    if (this.status) {
      throw new Error(
        `${this.name} exited (${this.status.code}):\n${this.tail()}`,
      );
    }
  }

  /** The last lines of its log. */
  tail(lines = 40): string {
    try {
      return Deno.readTextFileSync(this.log).split("\n").slice(-lines).join(
        "\n",
      );
    } catch {
      return "";
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.status) return;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Exited meanwhile.
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, graceMs);
    await this.child.status;
    clearTimeout(timer);
  }
}

/** How a test talks to the API server. */
export interface Api {
  /** An API request; `path` starts with /api or /apis. Throws on a non-2xx answer unless `allow` lists its status. */
  <T = Record<string, unknown>>(
    path: string,
    init?: { method?: string; body?: unknown; allow?: number[] },
  ): Promise<T>;
}

/** A running single-node cluster. */
export class Cluster {
  /** Its directory: data, sockets, logs, certificates. */
  readonly dir: string;
  /** The kubeconfig of its administrator (token in system:masters). */
  readonly kubeconfig: string;
  /** The node's name. */
  readonly node: string;
  /** The host's address on the pods' bridge: where pods reach the host. */
  readonly podGateway: string;
  /** The pods' bridge (a network interface of the host). */
  readonly #bridge: string;
  /** How long each step of the bring-up took, in ms. */
  readonly timings: Record<string, number> = {};
  readonly #components: Component[] = [];
  #client?: Deno.HttpClient;
  #server = "";
  #token = "";
  #containerdSocket = "";
  /** Whether /var/log/containers existed before the kubelet ran. */
  #hadContainerLogs = true;

  private constructor(dir: string, node: string) {
    this.dir = dir;
    this.node = node;
    this.kubeconfig = `${dir}/kubeconfig`;
    // One /24 per test process, away from Podman's 10.88.0.0/16.
    this.podGateway = `10.213.${20 + Deno.pid % 200}.1`;
    this.#bridge = `sbk${Deno.pid}`;
  }

  /** The API server's URL. */
  get server(): string {
    return this.#server;
  }

  /** containerd's socket. */
  get containerdSocket(): string {
    return this.#containerdSocket;
  }

  /**
   * Brings a cluster up: builds the binaries if needed, starts etcd,
   * containerd, the control plane and the kubelet, imports the pause image,
   * and waits for the node to be Ready.
   */
  static async start(): Promise<Cluster> {
    const dir = `/var/lib/spanbridge-k8s-${Deno.pid}`;
    const cluster = new Cluster(dir, `spanbridge-e2e-${Deno.pid}`);
    try {
      await cluster.#start();
    } catch (err) {
      const logs = cluster.#components.map((c) =>
        `--- ${c.name} ---\n${c.tail()}`
      ).join("\n");
      await cluster.stop().catch((e) => console.error(`teardown: ${e}`));
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
    return cluster;
  }

  async #step<T>(name: string, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const result = await f();
    this.timings[name] = Math.round(performance.now() - t0);
    return result;
  }

  async #start(): Promise<void> {
    const dir = this.dir;
    this.#hadContainerLogs = await Deno.stat("/var/log/containers").then(
      () => true,
      () => false,
    );
    for (const d of ["logs", "pki", "etcd", "containerd", "kubelet", "cni"]) {
      await Deno.mkdir(`${dir}/${d}`, { recursive: true });
    }
    await this.#step(
      "bootstrap",
      () => sh("sh", [`${root}tools/bootstrap.sh`, "kubernetes"]),
    );
    const bin = (await this.#step(
      "build",
      () =>
        sh("sh", [`${root}tools/kubernetes_build.sh`], {
          env: { SPANBRIDGE_KUBERNETES_VERSION: kubernetesVersion },
        }),
    )).trim().split("\n").at(-1)!;
    const pki = `${dir}/pki`;
    await this.#step("certificates", () => this.#certificates(pki));

    // etcd
    const etcdPort = unusedPort();
    const etcdPeer = unusedPort();
    const etcd = this.#run("etcd", "etcd", [
      "--name=e2e",
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=e2e=http://127.0.0.1:${etcdPeer}`,
      "--listen-metrics-urls=",
    ]);

    // containerd
    this.#containerdSocket = `${dir}/containerd/containerd.sock`;
    // The bridge made here, not by the plugin on the first pod, so that
    // the host's address on it exists before any pod (a test's receiver
    // listens there).
    await sh("ip", ["link", "add", "name", this.#bridge, "type", "bridge"]);
    await sh("ip", [
      "addr",
      "add",
      `${this.podGateway}/24`,
      "dev",
      this.#bridge,
    ]);
    await sh("ip", ["link", "set", this.#bridge, "up"]);
    const subnet = this.podGateway.replace(/\.1$/, ".0/24");
    await Deno.writeTextFile(
      `${dir}/cni/10-bridge.conflist`,
      JSON.stringify({
        cniVersion: "0.4.0",
        name: "spanbridge-e2e",
        plugins: [{
          type: "bridge",
          bridge: this.#bridge,
          isGateway: true,
          ipMasq: false,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet, gateway: this.podGateway }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: `${dir}/cni/ipam`,
          },
        }],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/containerd/config.toml`,
      containerdConfig(dir, this.#containerdSocket),
    );
    const containerd = this.#run("containerd", "containerd", [
      `--config=${dir}/containerd/config.toml`,
    ]);

    // kube-apiserver
    const apiPort = unusedPort();
    this.#server = `https://127.0.0.1:${apiPort}`;
    this.#token = crypto.randomUUID().replaceAll("-", "");
    await Deno.writeTextFile(
      `${pki}/tokens.csv`,
      `${this.#token},admin,admin,system:masters\n`,
    );
    await Deno.writeTextFile(
      this.kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{
          name: "e2e",
          cluster: {
            server: this.#server,
            "certificate-authority": `${pki}/ca.crt`,
          },
        }],
        users: [{ name: "admin", user: { token: this.#token } }],
        contexts: [{ name: "e2e", context: { cluster: "e2e", user: "admin" } }],
        "current-context": "e2e",
      }),
    );
    this.#client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(`${pki}/ca.crt`)],
    });
    await this.#step("etcd", () =>
      waitUntil(
        async () => {
          etcd.assertRunning();
          return await ready(`http://127.0.0.1:${etcdPort}/health`);
        },
        30_000,
        "etcd to be healthy",
      ));
    const apiserver = this.#run("kube-apiserver", `${bin}/kube-apiserver`, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      "--endpoint-reconciler-type=none",
      `--token-auth-file=${pki}/tokens.csv`,
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
      `--client-ca-file=${pki}/ca.crt`,
      `--service-account-key-file=${pki}/sa.pub`,
      `--service-account-signing-key-file=${pki}/sa.key`,
      "--service-account-issuer=https://kubernetes.default.svc",
      "--service-cluster-ip-range=10.96.0.0/24",
      "--authorization-mode=Node,RBAC",
      "--kubelet-preferred-address-types=InternalIP",
      `--cert-dir=${pki}`,
    ]);
    await this.#step("kube-apiserver", () =>
      waitUntil(
        async () => {
          apiserver.assertRunning();
          const res = await this.#fetch("/readyz").catch(() => undefined);
          await res?.body?.cancel();
          return res?.status === 200;
        },
        90_000,
        "kube-apiserver to be ready",
      ));

    this.#run(
      "kube-controller-manager",
      `${bin}/kube-controller-manager`,
      [
        `--kubeconfig=${this.kubeconfig}`,
        "--controllers=*,-serviceaccount-token",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${unusedPort()}`,
        `--root-ca-file=${pki}/ca.crt`,
        "--use-service-account-credentials=false",
      ],
    );
    this.#run("kube-scheduler", `${bin}/kube-scheduler`, [
      `--kubeconfig=${this.kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${unusedPort()}`,
    ]);

    await this.#step("pause image", () => this.#importPause());
    containerd.assertRunning();

    const kubeletDir = `${dir}/kubelet`;
    await Deno.writeTextFile(
      `${kubeletDir}/config.yaml`,
      JSON.stringify(kubeletConfig(dir, this.#containerdSocket)),
    );
    const kubelet = this.#run("kubelet", `${bin}/kubelet`, [
      `--config=${kubeletDir}/config.yaml`,
      `--kubeconfig=${this.kubeconfig}`,
      `--root-dir=${kubeletDir}/root`,
      `--cert-dir=${kubeletDir}/pki`,
      `--hostname-override=${this.node}`,
      "--node-ip=127.0.0.1",
    ]);
    await this.#step("node ready", () =>
      waitUntil(
        async () => {
          kubelet.assertRunning();
          const node = await this.api<Json>(`/api/v1/nodes/${this.node}`, {
            allow: [404],
          });
          if (node.kind !== "Node") return false;
          if (!node.status?.addresses?.length) {
            // The kubelet refuses a loopback --node-ip ("nodeIP can't be
            // loopback address") and then sets no address at all: pods get no
            // status.hostIP and the API server cannot reach the kubelet. It
            // leaves addresses it did not set alone, so they are set here.
            await this.api(`/api/v1/nodes/${this.node}/status`, {
              method: "PATCH",
              body: {
                status: {
                  addresses: [
                    { type: "InternalIP", address: "127.0.0.1" },
                    { type: "Hostname", address: this.node },
                  ],
                },
              },
            });
          }
          return node.status?.conditions?.some((c: Json) =>
            c.type === "Ready" && c.status === "True"
          ) ?? false;
        },
        120_000,
        `node ${this.node} to be Ready`,
      ));
  }

  #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.#server}${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${this.#token}`,
        "Content-Type": init.method === "PATCH"
          ? "application/merge-patch+json"
          : "application/json",
        ...init.headers,
      },
      client: this.#client,
    } as RequestInit);
  }

  /** A request to the API server (JSON in and out). */
  api: Api = async <T>(
    path: string,
    init: { method?: string; body?: unknown; allow?: number[] } = {},
  ): Promise<T> => {
    const res = await this.#fetch(path, {
      method: init.method ?? "GET",
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    if (!res.ok && !init.allow?.includes(res.status)) {
      throw new Error(
        `${init.method ?? "GET"} ${path}: ${res.status} ${text.slice(0, 2000)}`,
      );
    }
    try {
      return JSON.parse(text);
    } catch {
      return text as T;
    }
  };

  /** The log of container `container` of pod `ns`/`pod` (through the kubelet). */
  async podLog(ns: string, pod: string, container?: string): Promise<string> {
    const q = container ? `?container=${container}` : "";
    const res = await this.#fetch(
      `/api/v1/namespaces/${ns}/pods/${pod}/log${q}`,
    );
    return await res.text();
  }

  /** The end of every component's log, for failure messages. */
  dump(): string {
    return this.#components.map((c) => `--- ${c.name} ---\n${c.tail(20)}`)
      .join("\n");
  }

  #run(name: string, cmd: string, args: string[]): Component {
    const c = new Component(this.dir, name, cmd, args);
    this.#components.push(c);
    return c;
  }

  async #certificates(pki: string): Promise<void> {
    const ssl = (args: string[]) => sh("openssl", args, { cwd: pki });
    await ssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=spanbridge-e2e-ca",
    ]);
    await ssl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "apiserver.key",
      "-out",
      "apiserver.csr",
      "-subj",
      "/CN=kube-apiserver",
    ]);
    await Deno.writeTextFile(
      `${pki}/san.ext`,
      "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n",
    );
    await ssl([
      "x509",
      "-req",
      "-in",
      "apiserver.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "apiserver.crt",
      "-days",
      "2",
      "-extfile",
      "san.ext",
    ]);
    await ssl(["genrsa", "-out", "sa.key", "2048"]);
    await ssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  }

  async #importPause(): Promise<void> {
    const exe = `${this.dir}/pause`;
    await sh("go", ["build", "-o", exe, "./cmd/pause"], {
      cwd: `${root}tests/kubernetes`,
      env: { CGO_ENABLED: "0" },
    });
    await this.importImage(pauseImage, { "/pause": exe }, "/pause");
  }

  /**
   * Makes an image of nothing but `files` (path in the image → host file)
   * with `entrypoint` and imports it into the cluster's containerd as `ref`.
   */
  async importImage(
    ref: string,
    files: Record<string, string>,
    entrypoint: string,
  ): Promise<void> {
    await importFilesImage(ref, files, entrypoint);
    try {
      await this.importPodmanImage(ref);
    } finally {
      await podman(["rmi", "--force", "--ignore", ref]);
    }
  }

  /** Copies Podman's image `ref` into the cluster's containerd (`ctr images import`). */
  async importPodmanImage(ref: string): Promise<void> {
    const archive = `${this.dir}/image-${crypto.randomUUID()}.tar`;
    try {
      await podman([
        "save",
        "--quiet",
        "--format",
        "docker-archive",
        "-o",
        archive,
        ref,
      ]);
      await sh("ctr", [
        "--address",
        this.#containerdSocket,
        "-n",
        "k8s.io",
        "images",
        "import",
        archive,
      ]);
    } finally {
      await Deno.remove(archive).catch(() => {});
    }
  }

  /**
   * Tears the cluster down: deletes every pod and waits for the kubelet to
   * stop them, stops the components, kills containerd's shims, undoes the
   * mounts under its directory, removes the directory and the kubelet's
   * cgroups.
   */
  async stop(): Promise<void> {
    const problems: string[] = [];
    const component = (name: string) =>
      this.#components.find((c) => c.name === name);
    // Nothing may recreate the pods deleted below.
    await component("kube-controller-manager")?.stop();
    await component("kube-scheduler")?.stop();
    const kubelet = component("kubelet");
    if (kubelet && !kubelet.status && this.#server) {
      try {
        const pods = await this.api<Json>("/api/v1/pods");
        for (const p of pods.items ?? []) {
          await this.api(
            `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}?gracePeriodSeconds=10`,
            { method: "DELETE", allow: [404] },
          );
        }
        await waitUntil(
          async () =>
            ((await this.api<Json>("/api/v1/pods")).items ?? []).length === 0,
          60_000,
          "the kubelet to stop every pod",
        );
      } catch (err) {
        problems.push(`deleting pods: ${(err as Error).message}`);
      }
    }
    for (const c of [...this.#components].reverse()) {
      await c.stop(c.name === "containerd" ? 5_000 : 15_000);
    }
    // What the kubelet did not stop: containers (their shims outlive
    // containerd, their processes outlive their shims).
    const leftovers = () => [...shimPids(this.dir), ...podPids()];
    for (const pid of leftovers()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await waitUntil(() => leftovers().length === 0, 10_000, "shims and pods")
      .catch((err) => problems.push(err.message));
    for (const mount of mountsUnder(this.dir)) {
      try {
        await sh("umount", [mount]);
      } catch {
        await sh("umount", ["--lazy", mount]).catch((err) =>
          problems.push(err.message)
        );
      }
    }
    await sh("ip", ["link", "del", this.#bridge]).catch((err) => {
      if (!/Cannot find device/.test(err.message)) problems.push(err.message);
    });
    removeLogLinks(this.dir, this.#hadContainerLogs, problems);
    await Deno.remove(this.dir, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) {
        problems.push(`removing ${this.dir}: ${err}`);
      }
    });
    removeCgroups("kubepods", problems);
    this.#client?.close();
    if (problems.length > 0) {
      throw new Error(`cluster teardown:\n${problems.join("\n")}`);
    }
  }
}

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** containerd's configuration: its own root, state and socket; CRI with runc. */
function containerdConfig(dir: string, socket: string): string {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${dir}/containerd/ttrpc.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"

[${cri}]
  sandbox_image = "${pauseImage}"
  # The kernel here refuses the -998 oom_score_adj runc would set for the
  # sandbox ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "${dir}/cni"
`;
}

/** The kubelet's configuration: cgroupfs on this machine's cgroup v1, 127.0.0.1 only. */
function kubeletConfig(dir: string, socket: string): Json {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${socket}`,
    imageServiceEndpoint: `unix://${socket}`,
    address: "127.0.0.1",
    port: unusedPort(),
    readOnlyPort: 0,
    healthzPort: 0,
    authentication: {
      anonymous: { enabled: true },
      webhook: { enabled: false },
    },
    authorization: { mode: "AlwaysAllow" },
    podLogsDir: `${dir}/kubelet/pods-logs`,
    volumePluginDir: `${dir}/kubelet/volume-plugins`,
    resolvConf: "/etc/resolv.conf",
    // A shared machine's disk and memory: evict nothing, collect no images.
    evictionHard: {
      "memory.available": "1Mi",
      "nodefs.available": "0%",
      "imagefs.available": "0%",
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
  };
}

/** Pids of containerd shims started for the containerd under `dir`. */
function shimPids(dir: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (
        cmdline.startsWith("/usr/bin/containerd-shim") && cmdline.includes(dir)
      ) {
        pids.push(Number(e.name));
      }
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

/** Processes in the kubelet's pod cgroups. */
function podPids(): number[] {
  const pids: number[] = [];
  const walk = (dir: string) => {
    try {
      for (
        const line of Deno.readTextFileSync(`${dir}/cgroup.procs`).split("\n")
      ) {
        if (line) pids.push(Number(line));
      }
      for (const e of Deno.readDirSync(dir)) {
        if (e.isDirectory) walk(`${dir}/${e.name}`);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  };
  walk("/sys/fs/cgroup/pids/kubepods");
  return pids;
}

/**
 * Removes the kubelet's links in /var/log/containers (a path it does not
 * let one configure) to logs under `dir`, and the folder if it made it.
 */
function removeLogLinks(dir: string, hadFolder: boolean, problems: string[]) {
  const folder = "/var/log/containers";
  try {
    for (const e of Deno.readDirSync(folder)) {
      const link = `${folder}/${e.name}`;
      if (e.isSymlink && Deno.readLinkSync(link).startsWith(`${dir}/`)) {
        Deno.removeSync(link);
      }
    }
    if (!hadFolder && [...Deno.readDirSync(folder)].length === 0) {
      Deno.removeSync(folder);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      problems.push(`removing the kubelet's links in ${folder}: ${err}`);
    }
  }
}

/** Mount points under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((l) => l.split(" ")[4]?.replace(/\\040/g, " "))
    .filter((m): m is string => !!m && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Removes cgroup `name` (and what is under it) from every v1 hierarchy. */
function removeCgroups(name: string, problems: string[]): void {
  const rm = (path: string) => {
    for (const e of Deno.readDirSync(path)) {
      if (e.isDirectory) rm(`${path}/${e.name}`);
    }
    Deno.removeSync(path);
  };
  for (const h of Deno.readDirSync("/sys/fs/cgroup")) {
    const path = `/sys/fs/cgroup/${h.name}/${name}`;
    try {
      rm(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        problems.push(`removing cgroup ${path}: ${err}`);
      }
    }
  }
}
