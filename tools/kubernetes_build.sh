#!/bin/sh
# Builds the Kubernetes node and control-plane binaries the single-node
# cluster test needs (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet) from the k8s.io/kubernetes module of the Go module
# proxy into build/kubernetes/<version>/bin. Skips the build when those four
# binaries are already there, so it runs again only when the pinned version
# changes. Prints the bin directory alone on its last line.
#
# The module's zip has neither staging/src nor vendor/, and its go.mod
# replaces every k8s.io/<staging module> by ./staging/src/k8s.io/<name>: the
# source tree is copied out of the module cache and staging/src is filled
# with the matching v0.<minor>.<patch> releases of those modules. Built with
# -trimpath, so the Go build cache serves a fresh clone at another path too.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
version=${SPANBRIDGE_KUBERNETES_VERSION:-v1.37.2}
staging_version="v0.${version#v1.}"
out="$root/build/kubernetes/$version"
binaries="kube-apiserver kube-controller-manager kube-scheduler kubelet"

say() { printf 'kubernetes_build: %s\n' "$*" >&2; }

complete=1
for b in $binaries; do [ -x "$out/bin/$b" ] || complete=; done
if [ -n "$complete" ]; then
	echo "$out/bin"
	exit 0
fi

export GOWORK=off GOFLAGS=-mod=mod
module_dir() { # module@version -> its directory in the module cache
	(cd "$root" && go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

say "preparing the source of k8s.io/kubernetes $version"
kube=$(module_dir "k8s.io/kubernetes@$version")
[ -n "$kube" ] || { say "the Go module proxy did not serve k8s.io/kubernetes@$version"; exit 1; }
rm -rf "$out/src"
mkdir -p "$out/bin"
cp -R "$kube" "$out/src"
chmod -R u+w "$out/src"
mkdir -p "$out/src/staging/src/k8s.io"
for name in $(sed -n 's|^\tk8s.io/\([a-z-]*\) => ./staging/src/k8s.io/.*|\1|p' "$out/src/go.mod"); do
	dir=$(module_dir "k8s.io/$name@$staging_version" 2>/dev/null || true)
	if [ -z "$dir" ]; then
		# The proxy serves neither sample-cli-plugin nor sample-controller:
		# examples that go.mod does not require and no binary imports.
		case "$name" in sample-*) continue ;; esac
		say "the Go module proxy did not serve k8s.io/$name@$staging_version"
		exit 1
	fi
	cp -R "$dir" "$out/src/staging/src/k8s.io/$name"
done
chmod -R u+w "$out/src/staging"

minor=${version#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags="$ldflags -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
for b in $binaries; do
	say "go build ./cmd/$b"
	(cd "$out/src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/bin/$b.tmp" "./cmd/$b")
	mv "$out/bin/$b.tmp" "$out/bin/$b"
done
rm -rf "$out/src"
echo "$out/bin"
