package kubernetes

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// PodNode stands in for what the kubelet gives a pod through the downward
// API when the pod template is run with Podman instead.
type PodNode struct {
	// Name is spec.nodeName.
	Name string
	// IP is status.hostIP.
	IP string
}

// PodmanRunArgs translates container `name` of a pod template into the
// arguments of `podman run` (after "run", before nothing: the image and its
// arguments come last), so that a test runs exactly what the manifest
// describes: host namespaces, user, capabilities, seccomp, environment
// (downward API and $(VAR) references resolved), host paths and emptyDirs,
// CPU and memory limits, command and arguments. What Podman cannot do the
// same way (a privileged container, a ConfigMap or Secret volume, env from
// a Secret) is an error, never silently dropped.
func PodmanRunArgs(pod corev1.PodSpec, name string, node PodNode) ([]string, error) {
	var c *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == name {
			c = &pod.Containers[i]
		}
	}
	if c == nil {
		return nil, fmt.Errorf("no container %q in the pod template", name)
	}
	var args []string
	if pod.HostPID {
		args = append(args, "--pid=host")
	}
	if pod.HostNetwork {
		args = append(args, "--network=host")
	}
	sc, err := securityArgs(c.SecurityContext)
	if err != nil {
		return nil, err
	}
	args = append(args, sc...)
	env, err := envArgs(c.Env, node)
	if err != nil {
		return nil, err
	}
	args = append(args, env...)
	mounts, err := mountArgs(pod.Volumes, c.VolumeMounts)
	if err != nil {
		return nil, err
	}
	args = append(args, mounts...)
	if mem := c.Resources.Limits.Memory(); !mem.IsZero() {
		args = append(args, fmt.Sprintf("--memory=%d", mem.Value()))
	}
	if cpu := c.Resources.Limits.Cpu(); !cpu.IsZero() {
		args = append(args, fmt.Sprintf("--cpus=%g", float64(cpu.MilliValue())/1000))
	}
	if len(c.Command) > 0 {
		if len(c.Command) > 1 {
			return nil, fmt.Errorf("container %q: a command of more than one word cannot be a Podman entrypoint", name)
		}
		args = append(args, "--entrypoint="+c.Command[0])
	}
	args = append(args, c.Image)
	return append(args, c.Args...), nil
}

func securityArgs(sc *corev1.SecurityContext) ([]string, error) {
	if sc == nil {
		return nil, nil
	}
	var args []string
	if sc.Privileged != nil && *sc.Privileged {
		return nil, fmt.Errorf("a privileged container has no Podman equivalent that tests anything")
	}
	if sc.RunAsUser != nil {
		args = append(args, fmt.Sprintf("--user=%d", *sc.RunAsUser))
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		args = append(args, "--security-opt=no-new-privileges")
	}
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Drop {
			args = append(args, "--cap-drop="+capName(c))
		}
		for _, c := range sc.Capabilities.Add {
			args = append(args, "--cap-add="+capName(c))
		}
	}
	if sc.SeccompProfile != nil {
		switch sc.SeccompProfile.Type {
		case corev1.SeccompProfileTypeRuntimeDefault:
			// Podman's default profile.
		case corev1.SeccompProfileTypeUnconfined:
			args = append(args, "--security-opt=seccomp=unconfined")
		default:
			return nil, fmt.Errorf("seccomp profile %q has no Podman equivalent here", sc.SeccompProfile.Type)
		}
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		args = append(args, "--read-only")
	}
	return args, nil
}

func capName(c corev1.Capability) string {
	if c == "ALL" {
		return "ALL"
	}
	return "CAP_" + strings.TrimPrefix(string(c), "CAP_")
}

var reference = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// envArgs resolves values as the kubelet does: the downward API's node
// fields, and $(NAME) for a variable defined earlier in the list.
func envArgs(env []corev1.EnvVar, node PodNode) ([]string, error) {
	var args []string
	seen := map[string]string{}
	for _, e := range env {
		value := e.Value
		if e.ValueFrom != nil {
			f := e.ValueFrom.FieldRef
			switch {
			case f != nil && f.FieldPath == "spec.nodeName":
				value = node.Name
			case f != nil && f.FieldPath == "status.hostIP":
				value = node.IP
			default:
				return nil, fmt.Errorf("env %s: only spec.nodeName and status.hostIP are supported from the downward API", e.Name)
			}
		} else {
			value = reference.ReplaceAllStringFunc(value, func(ref string) string {
				if v, ok := seen[ref[2:len(ref)-1]]; ok {
					return v
				}
				return ref
			})
		}
		seen[e.Name] = value
		args = append(args, "--env="+e.Name+"="+value)
	}
	return args, nil
}

func mountArgs(volumes []corev1.Volume, mounts []corev1.VolumeMount) ([]string, error) {
	byName := map[string]corev1.Volume{}
	for _, v := range volumes {
		byName[v.Name] = v
	}
	var args []string
	for _, m := range mounts {
		v, ok := byName[m.Name]
		switch {
		case !ok:
			return nil, fmt.Errorf("volume mount %q has no volume", m.Name)
		case v.HostPath != nil:
			if _, err := os.Stat(v.HostPath.Path); err != nil && v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathDirectory {
				return nil, fmt.Errorf("host path %s (type Directory): %w", v.HostPath.Path, err)
			}
			opt := "rw"
			if m.ReadOnly {
				opt = "ro"
			}
			args = append(args, fmt.Sprintf("--volume=%s:%s:%s", v.HostPath.Path, m.MountPath, opt))
		case v.EmptyDir != nil:
			opt := ""
			if v.EmptyDir.SizeLimit != nil {
				opt = fmt.Sprintf(":size=%d", v.EmptyDir.SizeLimit.Value())
			}
			args = append(args, "--tmpfs="+m.MountPath+opt)
		default:
			return nil, fmt.Errorf("volume %q: only hostPath and emptyDir volumes run under Podman here", m.Name)
		}
	}
	return args, nil
}
