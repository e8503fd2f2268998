// Package kubernetes tests spanbridge's Kubernetes manifests (deploy/kubernetes):
// the plain YAML and the Helm chart's rendered output decode strictly into
// the official k8s.io/api types, and say what the agent and gateway need.
package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// HelmVersion is the Helm release the chart is rendered with. Changing it
// builds that release into build/helm/<version>/ on the next test run.
const HelmVersion = "v3.22.0"

// KubeVersion is the Kubernetes version the chart is rendered for (that of
// the k8s.io/api types the output is decoded into; a Helm built with go
// install would otherwise assume v1.20).
const KubeVersion = "1.37.2"

// Root is the repository root.
var Root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

// ChartDir is the Helm chart.
var ChartDir = filepath.Join(Root, "deploy", "kubernetes", "spanbridge")

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// Helm returns the path of the pinned Helm, built from the Go module proxy
// into build/helm/<version>/ the first time (about a minute cold).
func Helm() (string, error) {
	helmOnce.Do(func() {
		dir := filepath.Join(Root, "build", "helm", HelmVersion)
		helmPath = filepath.Join(dir, "helm")
		if _, err := os.Stat(helmPath); err == nil {
			return
		}
		cmd := exec.Command("go", "install", "helm.sh/helm/v3/cmd/helm@"+HelmVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			helmErr = fmt.Errorf("go install helm.sh/helm/v3/cmd/helm@%s: %w\n%s", HelmVersion, err, out)
		}
	})
	return helmPath, helmErr
}

// Render runs `helm template` on the chart with the release name
// "spanbridge" in namespace "spanbridge" for KubeVersion and the given --set
// flags.
func Render(sets ...string) ([]byte, error) {
	return RenderValues(nil, sets...)
}

// RenderValues is Render with values files (helm --values) before the --set
// flags: lists of objects, such as gateway.routing.tenants, read better there.
func RenderValues(files []string, sets ...string) ([]byte, error) {
	helm, err := Helm()
	if err != nil {
		return nil, err
	}
	args := []string{"template", "spanbridge", ChartDir, "--namespace", "spanbridge", "--kube-version", KubeVersion}
	for _, f := range files {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Helm keeps its caches and config out of the user's home.
	tmp := filepath.Join(Root, "build", "helm", "home")
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+tmp, "HELM_CONFIG_HOME="+tmp, "HELM_DATA_HOME="+tmp)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %v: %w\n%s", args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}
