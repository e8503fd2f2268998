#!/bin/sh
# Runs inside a kernel-matrix virtual machine (virtme-ng: root, this
# machine's root filesystem read-only over 9p, OUT writable): copies the
# staged files and Deno into tmpfs, mounts bpffs and runs the scenarios.
# Copies, because 9p has no page cache here: Deno started from 9p took
# 15-25 s under emulation, from tmpfs 1-2 s.
# Usage: _guest.sh STAGE DENO OUT
set -u
stage=$1 deno=$2 out=$3
mount -t bpf -o mode=0700 bpf /sys/fs/bpf
mkdir -p /run/sb
cp -a "$stage/." /run/sb/
cp "$deno" /run/sb/deno
cd /run/sb
export DENO_DIR=/run/sb/deno-dir DENO_NO_UPDATE_CHECK=1
./deno run -A scenarios.js --controller /run/sb/build/vm/spanbridge.js \
	--hello /run/sb/hello --showcase /run/sb/showcase \
	--pin-root /sys/fs/bpf/spanbridge-kernels \
	>"$out/results.jsonl" 2>"$out/stderr.log"
echo $? >"$out/exit"
