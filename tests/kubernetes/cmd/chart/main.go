// Command chart serves the end-to-end tests written in TypeScript what the
// kubernetes package knows about the chart:
//
//	chart helm
//	    prints the path of the pinned Helm (building it the first time)
//	chart podman-run-args [-node-name N] [-node-ip IP] [-set k=v]...
//	    renders the chart with the -set values, decodes it strictly and
//	    prints, as JSON, the `podman run` arguments of the agent DaemonSet's
//	    container (image and its arguments last) and the URL its readiness
//	    probe gets: {"args": [...], "readiness": "http://host:port/path"}
//	chart configmaps [-values FILE]... [-set k=v]...
//	    renders the chart, decodes it strictly and prints the data of its
//	    ConfigMaps as JSON, each value parsed as YAML (a Collector
//	    configuration): {"<name>": {"<key>": {...}}}
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
	"spanbridge.test/kubernetes"
)

type sets []string

func (s *sets) String() string     { return fmt.Sprint(*s) }
func (s *sets) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: chart helm | chart podman-run-args [-node-name N] [-node-ip IP] [-set k=v]... | chart configmaps [-values FILE]... [-set k=v]...")
	}
	switch args[0] {
	case "helm":
		helm, err := kubernetes.Helm()
		if err != nil {
			return err
		}
		fmt.Println(helm)
		return nil
	case "podman-run-args":
		fs := flag.NewFlagSet("podman-run-args", flag.ContinueOnError)
		node := kubernetes.PodNode{}
		fs.StringVar(&node.Name, "node-name", "node", "spec.nodeName for the downward API")
		fs.StringVar(&node.IP, "node-ip", "127.0.0.1", "status.hostIP for the downward API")
		var values sets
		fs.Var(&values, "set", "a helm --set value (repeatable)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		manifest, err := kubernetes.Render(values...)
		if err != nil {
			return err
		}
		objs, err := kubernetes.Decode(manifest)
		if err != nil {
			return fmt.Errorf("strict decoding of the rendered chart: %w", err)
		}
		if len(objs.DaemonSets) != 1 {
			return fmt.Errorf("the rendered chart has %d DaemonSets, want 1", len(objs.DaemonSets))
		}
		pod := objs.DaemonSets[0].Spec.Template.Spec
		podArgs, err := kubernetes.PodmanRunArgs(pod, "agent", node)
		if err != nil {
			return err
		}
		var probe *corev1.Probe
		for _, c := range pod.Containers {
			if c.Name == "agent" {
				probe = c.ReadinessProbe
			}
		}
		if probe == nil || probe.HTTPGet == nil {
			return errors.New("the agent container has no HTTP readiness probe")
		}
		host := probe.HTTPGet.Host
		if host == "" {
			host = node.IP // a pod on the host network: the kubelet probes the pod IP, the node's
		}
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"args":      podArgs,
			"readiness": fmt.Sprintf("http://%s:%s%s", host, probe.HTTPGet.Port.String(), probe.HTTPGet.Path),
		})
	case "configmaps":
		fs := flag.NewFlagSet("configmaps", flag.ContinueOnError)
		var files, values sets
		fs.Var(&files, "values", "a helm --values file (repeatable)")
		fs.Var(&values, "set", "a helm --set value (repeatable)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		manifest, err := kubernetes.RenderValues(files, values...)
		if err != nil {
			return err
		}
		objs, err := kubernetes.Decode(manifest)
		if err != nil {
			return fmt.Errorf("strict decoding of the rendered chart: %w", err)
		}
		data := map[string]map[string]json.RawMessage{}
		for _, cm := range objs.ConfigMaps {
			data[cm.Name] = map[string]json.RawMessage{}
			for key, text := range cm.Data {
				value, err := yaml.YAMLToJSONStrict([]byte(text))
				if err != nil {
					return fmt.Errorf("ConfigMap %s key %s: %w", cm.Name, key, err)
				}
				data[cm.Name][key] = value
			}
		}
		return json.NewEncoder(os.Stdout).Encode(data)
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}
