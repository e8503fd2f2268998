package kubernetes

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// twoTenants is a values file with gateway.routing for two tenants.
const twoTenants = `
gateway:
  routing:
    tenantLabel: spanbridge.io/tenant
    tenants:
      - name: team-a
        namespaces: [team-a]
        endpoint: http://tempo.team-a:4318
        headers: {X-Scope-OrgID: team-a}
      - name: team-b
        namespaces: [team-b]
        labelValues: [team-b]
        endpoint: tempo.team-b:4317
        protocol: grpc
        insecure: true
`

func renderValues(t *testing.T, values string, sets ...string) (Objects, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := RenderValues([]string{file}, sets...)
	if err != nil {
		return Objects{}, err
	}
	objs, err := Decode(out)
	if err != nil {
		t.Fatalf("strict decoding: %v", err)
	}
	return objs, nil
}

func gatewayOf(t *testing.T, objs Objects) corev1.Container {
	t.Helper()
	for _, d := range objs.Deployments {
		if strings.HasSuffix(d.Name, "-gateway") {
			return d.Spec.Template.Spec.Containers[0]
		}
	}
	t.Fatal("no gateway Deployment")
	return corev1.Container{}
}

func TestTenantRouting(t *testing.T) {
	objs, err := renderValues(t, twoTenants)
	if err != nil {
		t.Fatal(err)
	}
	c := gatewayOf(t, objs)
	if !slices.Contains(c.Args, "--config=/conf/gateway-routing.yaml") ||
		!slices.Contains(c.Args, shareK8sAttributes) {
		t.Errorf("gateway args %q", c.Args)
	}
	routing := objs.ConfigMaps[0].Data["gateway-routing.yaml"]
	for _, want := range []string{
		"traces/team-a:", "traces/team-b:", "logs/team-a:", "logs/team-b:", "log_conditions:",
		"filter/unrouted", "otlp_http/team-a:", "otlp_grpc/team-b:",
		"X-Scope-OrgID: team-a", `not (resource.attributes["k8s.namespace.name"] == "team-a")`,
		`resource.attributes["k8s.pod.label.spanbridge.io/tenant"]`,
		"tag_name: k8s.pod.label.spanbridge.io/tenant",
	} {
		if !strings.Contains(routing, want) {
			t.Errorf("gateway-routing.yaml lacks %q:\n%s", want, routing)
		}
	}
	// Without tenants nor sampling, nothing changes.
	objs, _ = render(t)
	if _, ok := objs.ConfigMaps[0].Data["gateway-routing.yaml"]; ok || slices.Contains(gatewayOf(t, objs).Args, "--config=/conf/gateway-routing.yaml") {
		t.Error("gateway-routing.yaml without tenants or sampling")
	}
}

func TestTenantRoutingRefusesMistakes(t *testing.T) {
	for values, want := range map[string]string{
		"gateway:\n  routing:\n    tenants: [{name: a, labelValues: [a], endpoint: http://x}]\n":           "need gateway.routing.tenantLabel",
		"gateway:\n  routing:\n    tenants: [{name: a, endpoint: http://x}]\n":                             "give namespaces or labelValues",
		"gateway:\n  routing:\n    tenants: [{name: A/b, namespaces: [a], endpoint: http://x}]\n":          "must be lower-case",
		"gateway:\n  routing:\n    tenants: [{name: a, namespaces: [a]}]\n":                                "endpoint is required",
		"gateway:\n  routing:\n    tenants: [{name: a, namespaces: [a], endpoint: x, protocol: udp}]\n":    "neither http nor grpc",
		"gateway:\n  sampling: {enabled: true, keepErrors: false, latencyThresholdMs: 0, percentage: 0}\n": "keeps nothing",
	} {
		if _, err := renderValues(t, values); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error saying %q, got %v", values, want, err)
		}
	}
}

func TestSamplingTier(t *testing.T) {
	objs, err := renderValues(t, twoTenants, "gateway.sampling.enabled=true")
	if err != nil {
		t.Fatal(err)
	}
	var sampler *corev1.PodSpec
	for _, d := range objs.Deployments {
		if d.Name == "spanbridge-sampler" {
			if *d.Spec.Replicas != 2 {
				t.Errorf("sampler replicas %d, want 2", *d.Spec.Replicas)
			}
			sampler = &d.Spec.Template.Spec
		}
	}
	if sampler == nil {
		t.Fatal("no sampler Deployment")
	}
	if sampler.HostNetwork {
		t.Error("the sampler pods need addresses of their own")
	}
	headless := false
	for _, s := range objs.Services {
		headless = headless || (s.Name == "spanbridge-sampler" && s.Spec.ClusterIP == "None")
	}
	if !headless {
		t.Error("no headless Service for the sampler")
	}
	if len(objs.Roles) != 1 || objs.Roles[0].Rules[0].Resources[0] != "endpointslices" || len(objs.RoleBindings) != 1 {
		t.Errorf("the gateway may not list the sampler's EndpointSlices: %+v", objs.Roles)
	}
	c := gatewayOf(t, objs)
	if envOf(c)["GATEWAY_TOKEN"].ValueFrom == nil {
		t.Error("the gateway has no token to send the sampling tier")
	}
	if !slices.Contains(c.Args, shareK8sAttributes) {
		t.Error("the traces pipeline and the tenants' logs pipelines need one shared k8s_attributes")
	}
	var gateway, tier string
	for _, cm := range objs.ConfigMaps {
		gateway += cm.Data["gateway-routing.yaml"]
		tier += cm.Data["sampler.yaml"]
	}
	// Log records are not sampled: the gateway routes them to the tenants itself.
	for _, want := range []string{"load_balancing:", "routing_key: traceID", "service: spanbridge-sampler.spanbridge", "authorization: Bearer ${env:GATEWAY_TOKEN}", "logs/team-a:", "logs/team-b:"} {
		if !strings.Contains(gateway, want) {
			t.Errorf("gateway-routing.yaml lacks %q:\n%s", want, gateway)
		}
	}
	for _, want := range []string{"tail_sampling:", "status_codes:", "threshold_ms: 1000", "sampling_percentage: 10", "traces/team-a:", "authenticator: bearertokenauth", "port: 8888"} {
		if !strings.Contains(tier, want) {
			t.Errorf("sampler.yaml lacks %q:\n%s", want, tier)
		}
	}
	if strings.Contains(tier, "logs") {
		t.Errorf("the sampling tier gets no log records, yet has logs pipelines:\n%s", tier)
	}
}
