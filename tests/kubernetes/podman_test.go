package kubernetes

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodmanRunArgsOfTheAgent(t *testing.T) {
	// gateway.auth gives the agent its token from a Secret, which Podman
	// cannot read here.
	objs, _ := render(t, "agent.env.SPANBRIDGE_LOG_LEVEL=debug", "gateway.auth.enabled=false")
	got, err := PodmanRunArgs(objs.DaemonSets[0].Spec.Template.Spec, "agent", PodNode{Name: "node-1", IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--pid=host",
		"--network=host",
		"--user=0",
		"--cap-drop=ALL",
		"--cap-add=CAP_BPF",
		"--cap-add=CAP_PERFMON",
		"--cap-add=CAP_SYS_ADMIN",
		"--cap-add=CAP_SYS_PTRACE",
		"--read-only",
		"--env=K8S_NODE_NAME=node-1",
		"--env=K8S_NODE_IP=10.0.0.1",
		"--env=OTEL_EXPORTER_OTLP_ENDPOINT=http://spanbridge-gateway.spanbridge.svc:4318",
		"--env=SPANBRIDGE_TELEMETRY=127.0.0.1:9464",
		"--env=SPANBRIDGE_LOG_LEVEL=debug",
		"--volume=/sys/fs/bpf/spanbridge-agent:/sys/fs/bpf:rw",
		"--tmpfs=/tmp:size=67108864",
		"--memory=201326592",
		"--cpus=1",
		"localhost/spanbridge:0.1.0",
		"run", "--all", "--log-format", "json", "--no-status",
	}
	if !slices.Equal(got, want) {
		t.Errorf("podman run arguments:\n got %q\nwant %q", got, want)
	}
}

func TestPodmanRunArgsResolvesReferences(t *testing.T) {
	objs, _ := render(t, "gateway.hostNetwork=true", "gateway.auth.enabled=false")
	got, err := PodmanRunArgs(objs.DaemonSets[0].Spec.Template.Spec, "agent", PodNode{Name: "n", IP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "--env=OTEL_EXPORTER_OTLP_ENDPOINT=http://192.0.2.7:4318") {
		t.Errorf("$(K8S_NODE_IP) not resolved: %q", got)
	}
}

func TestPodmanRunArgsRefusesWhatPodmanCannotRun(t *testing.T) {
	yes := true
	for name, pod := range map[string]corev1.PodSpec{
		"privileged": {Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}},
		"configMap": {
			Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}}},
			Volumes:    []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}},
		},
		"secret env": {Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "H", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{}}}}}}},
		"missing":    {Containers: []corev1.Container{{Name: "other"}}},
	} {
		if _, err := PodmanRunArgs(pod, "c", PodNode{}); err == nil {
			t.Errorf("%s: want an error", name)
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: empty error", name)
		}
	}
}
