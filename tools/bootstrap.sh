#!/bin/sh
# Makes this machine ready to build, run and test spanbridge: Debian packages
# (clang, llvm, bpftool, libbpf; podman, runc and mmdebstrap for the agent
# image), Deno and the protobuf generator from npm, Go modules, npm packages
# for Deno, and bpffs at /sys/fs/bpf. Idempotent and quiet when there is
# nothing to do.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
npm_tools="$root/tools/npm"
arch_triplet="$(uname -m)-linux-gnu"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# apt_install WHAT PACKAGE...: installs the Debian packages (WHAT names them
# for people), or stops with what to install by hand when not root.
apt_install() {
	what=$1
	shift
	if [ "$(id -u)" != 0 ]; then
		say "$what: missing, and installing needs root: run as root or apt-get install $*"
		exit 1
	fi
	say "installing $what (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
	apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends "$@" >/dev/null
}

need_apt=
for bin in clang llc llvm-strip llvm-objdump bpftool; do
	command -v "$bin" >/dev/null 2>&1 || need_apt=1
done
[ -f /usr/include/bpf/bpf_helpers.h ] || need_apt=1
[ -e "/usr/lib/$arch_triplet/libbpf.so.1" ] || need_apt=1
[ -d "/usr/include/$arch_triplet/asm" ] || need_apt=1
if [ -n "$need_apt" ]; then
	apt_install "clang, llvm, bpftool, libbpf-dev" \
		clang llvm bpftool libbpf-dev libbpf1 linux-libc-dev libc6-dev
fi

# Podman (with runc: crun cannot run containers on hosts with a hybrid cgroup
# setup) and mmdebstrap, for the agent image (deno task image) and the
# container tests.
need_podman=
for bin in podman runc mmdebstrap; do
	command -v "$bin" >/dev/null 2>&1 || need_podman=1
done
if [ -n "$need_podman" ]; then
	apt_install "podman, runc, mmdebstrap" podman runc mmdebstrap
fi

# etcd and containerd for the single-node Kubernetes test (deno task
# e2e:kubernetes runs `tools/bootstrap.sh kubernetes`): only when asked for.
if [ "${1:-}" = kubernetes ]; then
	need_kube=
	for bin in etcd containerd ctr runc; do
		command -v "$bin" >/dev/null 2>&1 || need_kube=1
	done
	if [ -n "$need_kube" ]; then
		apt_install "etcd-server, containerd, runc" etcd-server containerd runc
	fi
fi

# qemu, busybox, kmod and virtme-ng for the kernel matrix (deno task
# test:kernels runs `tools/bootstrap.sh kernels`): only when asked for.
# virtme-ng boots a kernel on this machine's own root filesystem; it comes
# from PyPI, pinned, into a virtual environment under build/.
if [ "${1:-}" = kernels ]; then
	need_vm=
	for bin in qemu-system-x86_64 busybox depmod; do
		command -v "$bin" >/dev/null 2>&1 || need_vm=1
	done
	python3 -c 'import ensurepip, venv' 2>/dev/null || need_vm=1
	if [ -n "$need_vm" ]; then
		apt_install "qemu-system-x86, busybox-static, kmod, python3-venv" \
			qemu-system-x86 busybox-static kmod python3-venv
	fi
	vng_version=1.42
	vng_env="$root/build/virtme-ng"
	if [ "$("$vng_env/bin/vng" --version 2>&1 | awk '{print $NF}')" != "$vng_version" ]; then
		say "installing virtme-ng $vng_version (pip, into build/virtme-ng)"
		rm -rf "$vng_env"
		python3 -m venv "$vng_env"
		"$vng_env/bin/pip" install --quiet --disable-pip-version-check \
			"virtme-ng==$vng_version"
	fi
fi

# Deno and the protobuf generator, pinned in tools/npm/package-lock.json (a
# folder of its own: a package.json beside tools/*.ts would change how Deno
# resolves their imports).
if [ ! -x "$npm_tools/node_modules/.bin/deno" ] ||
	[ "$npm_tools/package-lock.json" -nt "$npm_tools/node_modules/.package-lock.json" ]; then
	say "installing Deno and protoc-gen-es (npm ci in tools/npm)"
	(cd "$npm_tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# Go modules.
(cd "$root/go" && go mod download)

# npm packages the Deno code imports (pinned in deno.lock).
(cd "$root" && "$npm_tools/node_modules/.bin/deno" install --quiet)

# bpffs: the probe's programs, maps and links are pinned there.
if ! grep -qs ' /sys/fs/bpf bpf ' /proc/mounts; then
	if [ "$(id -u)" = 0 ] && mount -t bpf -o mode=0700 bpf /sys/fs/bpf 2>/dev/null; then
		say "mounted bpffs at /sys/fs/bpf"
	else
		say "warning: bpffs is not mounted at /sys/fs/bpf and could not be mounted (run as root: mount -t bpf -o mode=0700 bpf /sys/fs/bpf)"
	fi
fi
