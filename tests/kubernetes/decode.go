package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Objects are the decoded documents of one manifest, by kind.
type Objects struct {
	ServiceAccounts     []corev1.ServiceAccount
	ConfigMaps          []corev1.ConfigMap
	Secrets             []corev1.Secret
	Services            []corev1.Service
	DaemonSets          []appsv1.DaemonSet
	Deployments         []appsv1.Deployment
	ClusterRoles        []rbacv1.ClusterRole
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	Roles               []rbacv1.Role
	RoleBindings        []rbacv1.RoleBinding
}

var separator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Decode splits a multi-document manifest and decodes every document
// strictly into its k8s.io/api type: an unknown or duplicate field, a value
// of the wrong type or an unexpected apiVersion/kind is an error.
func Decode(manifest []byte) (Objects, error) {
	var objs Objects
	for i, doc := range separator.Split(string(manifest), -1) {
		if isEmpty(doc) {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return objs, fmt.Errorf("document %d: %w", i, err)
		}
		var err error
		switch meta.APIVersion + " " + meta.Kind {
		case "v1 ServiceAccount":
			objs.ServiceAccounts, err = decodeInto(doc, objs.ServiceAccounts)
		case "v1 ConfigMap":
			objs.ConfigMaps, err = decodeInto(doc, objs.ConfigMaps)
		case "v1 Secret":
			objs.Secrets, err = decodeInto(doc, objs.Secrets)
		case "v1 Service":
			objs.Services, err = decodeInto(doc, objs.Services)
		case "apps/v1 DaemonSet":
			objs.DaemonSets, err = decodeInto(doc, objs.DaemonSets)
		case "apps/v1 Deployment":
			objs.Deployments, err = decodeInto(doc, objs.Deployments)
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			objs.ClusterRoles, err = decodeInto(doc, objs.ClusterRoles)
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			objs.ClusterRoleBindings, err = decodeInto(doc, objs.ClusterRoleBindings)
		case "rbac.authorization.k8s.io/v1 Role":
			objs.Roles, err = decodeInto(doc, objs.Roles)
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			objs.RoleBindings, err = decodeInto(doc, objs.RoleBindings)
		default:
			err = fmt.Errorf("unexpected apiVersion %q kind %q", meta.APIVersion, meta.Kind)
		}
		if err != nil {
			return objs, fmt.Errorf("document %d (%s %s): %w", i, meta.APIVersion, meta.Kind, err)
		}
	}
	return objs, nil
}

// decodeInto decodes like the API server does: YAML to JSON (duplicate keys
// refused), then sigs.k8s.io/json's strict, case-sensitive decoding
// (encoding/json alone would accept "hostPid" for hostPID).
func decodeInto[T any](doc string, list []T) ([]T, error) {
	data, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return list, err
	}
	var obj T
	strict, err := kjson.UnmarshalStrict(data, &obj)
	if err != nil {
		return list, err
	}
	if len(strict) > 0 {
		return list, errors.Join(strict...)
	}
	return append(list, obj), nil
}

// isEmpty reports whether a document holds only comments and blank lines.
func isEmpty(doc string) bool {
	for _, line := range bytes.Split([]byte(doc), []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}
