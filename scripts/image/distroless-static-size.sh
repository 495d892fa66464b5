#!/usr/bin/env bash
# What gcr.io/distroless/static-debian13:nonroot weighs, measured from the Debian packages it is made of, since no
# image can be pulled here. distroless builds it with rules_oci from one layer per tar (static/static.bzl at commit
# cd080764af3103b2f49fb5eb23297c72c945e77a of GoogleContainerTools/distroless): the data of each package in
# STATIC_PACKAGES["debian13"] (static/config.bzl: base-files, netbase, tzdata, tzdata-legacy, media-types), then
# rootfs, passwd, home, group, tmp, nsswitch, os-release and the CA bundle. This script downloads those packages
# for trixie with apt-get inside the Debian rootfs that scripts/build-image.sh caches, writes each layer as a tar
# (a package's data tar, as `dpkg-deb --fsys-tarfile` gives it; the small files as tars of their own) and prints
# what Go's compress/gzip makes of each (scripts/image/gzip-layers.go: what `docker push` would compress).
#
#   sudo scripts/image/distroless-static-size.sh [DEBIAN_ROOTFS.tar]   # default: the build script's cached trixie
#
# An estimate of the real base, not its bytes: distroless compresses its own layers (rules_oci) and a registry
# stores those blobs, and its file metadata differs. Needs root (chroot), dpkg-deb, go (golang-go) and network to
# the Debian mirror.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root (chroot for apt-get)" >&2; exit 1; }
HERE="$(cd "$(dirname "$0")" && pwd)"
IMAGE_CACHE="${IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crm-events-probe-image}"
ROOTFS_TAR="${1:-$(ls "$IMAGE_CACHE"/debian-trixie-minbase-*.tar 2>/dev/null | head -n 1)}"
[ -s "$ROOTFS_TAR" ] || { echo "no Debian rootfs tar: run scripts/build-image.sh once, or name one" >&2; exit 1; }
PACKAGES=(base-files netbase tzdata tzdata-legacy media-types)

WORK="$(mktemp -d /tmp/distroless-size.XXXXXX)"
cleanup() { umount "$WORK/root/proc" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/root" "$WORK/layers" "$WORK/files"
tar --numeric-owner -xpf "$ROOTFS_TAR" -C "$WORK/root"
cp /etc/resolv.conf "$WORK/root/etc/resolv.conf"
mount -t proc proc "$WORK/root/proc"
chroot "$WORK/root" /bin/sh -c "apt-get update -qq && mkdir -p /debs && cd /debs && apt-get download -qq ${PACKAGES[*]} ca-certificates" >&2
n=0
for pkg in "${PACKAGES[@]}"; do
  deb="$(ls "$WORK/root/debs/${pkg}_"*.deb)"
  echo "$(basename "$deb")" >&2
  dpkg-deb --fsys-tarfile "$deb" >"$WORK/layers/$(printf %02d $n)-$pkg.tar"
  n=$((n + 1))
done
# The small layers, as static.bzl lists them after the packages.
F="$WORK/files"
mkdir -p "$F/rootfs" "$F/home/home/nonroot" "$F/tmp/tmp" "$F/passwd/etc" "$F/group/etc" "$F/nsswitch/etc" "$F/os-release/etc" "$F/cacerts/etc/ssl/certs"
for d in bin:usr/bin sbin:usr/sbin lib:usr/lib lib64:usr/lib64; do mkdir -p "$F/rootfs/${d#*:}"; ln -s "${d#*:}" "$F/rootfs/${d%%:*}"; done
mkdir -p "$F/rootfs/root" "$F/rootfs/var/lib/dpkg/status.d"
chmod 1777 "$F/tmp/tmp"; chmod 700 "$F/home/home/nonroot"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$F/passwd/etc/passwd"
printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$F/group/etc/group"
printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' 'networks: files' \
  'protocols: files' 'services: files' 'ethers: files' 'rpc: files' >"$F/nsswitch/etc/nsswitch.conf"
cp "$WORK/root/usr/lib/os-release" "$F/os-release/etc/os-release"
cp "$WORK/root/etc/ssl/certs/ca-certificates.crt" "$F/cacerts/etc/ssl/certs/"
for layer in rootfs passwd home group tmp nsswitch os-release cacerts; do
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$F/$layer" -cf "$WORK/layers/$(printf %02d $n)-$layer.tar" .
  n=$((n + 1))
done
go run "$HERE/gzip-layers.go" "$WORK"/layers/*.tar
