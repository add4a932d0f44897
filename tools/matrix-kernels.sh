#!/usr/bin/env bash
# The kernel matrix's guests (make matrix-kernels): unpacks the newest Debian
# 6.1 and 6.12 kernel packages (or those named) into target/matrix/kernels/,
# and installs what boots them: from Debian QEMU, busybox (virtme-ng builds
# the guest's initramfs from it) and udev (without systemd-udevd the guest's
# init finds no virtio-serial port for the script: its output is lost and
# vng exits 255), and virtme-ng from PyPI.
#
# The packages are unpacked with dpkg-deb -x, never installed: the host's
# /boot, /lib/modules and boot loader stay as they are. virtme-ng finds the
# modules beside the image (target/matrix/kernels/V/lib/modules/V) and runs
# depmod there on the first boot.
#
# Usage: tools/matrix-kernels.sh [PACKAGE...]
#   default: the newest linux-image-6.1.0-N-amd64 and linux-image-6.12.N+deb12-amd64
set -euo pipefail
cd "$(dirname "$0")/.."
VIRTME_NG_VERSION=1.42
DIR=target/matrix
mkdir -p "$DIR/debs" "$DIR/kernels"

udevd() { [ -x /lib/systemd/systemd-udevd ] || [ -x /usr/lib/systemd/systemd-udevd ]; }
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v depmod >/dev/null || ! command -v busybox >/dev/null || ! udevd; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 kmod busybox-static udev >/dev/null
fi
if ! command -v vng >/dev/null || [ "$(vng --version 2>/dev/null | awk '{print $NF}')" != "$VIRTME_NG_VERSION" ]; then
  pip install -q "virtme-ng==$VIRTME_NG_VERSION"
fi

newest() { apt-cache search --names-only "$1" | awk '{print $1}' | sort -V | tail -1; }
if [ $# -gt 0 ]; then
  packages=("$@")
else
  packages=("$(newest '^linux-image-6\.1\.0-[0-9]+-amd64$')" "$(newest '^linux-image-6\.12\.[0-9]+\+deb12-amd64$')")
fi
for pkg in "${packages[@]}"; do
  [ -n "$pkg" ] || { echo "matrix-kernels: no such kernel package in the Debian registry (apt-get update?)" >&2; exit 3; }
  version=${pkg#linux-image-}
  if [ -e "$DIR/kernels/$version/boot/vmlinuz-$version" ]; then
    echo "matrix-kernels: $version is unpacked"
    continue
  fi
  (cd "$DIR/debs" && apt-get download -q "$pkg" >/dev/null 2>&1 || apt-get download "$pkg")
  deb=$(ls -t "$DIR/debs/${pkg}_"*.deb | head -1)
  rm -rf "$DIR/kernels/$version.tmp"
  dpkg-deb -x "$deb" "$DIR/kernels/$version.tmp"
  mv "$DIR/kernels/$version.tmp" "$DIR/kernels/$version"
  echo "matrix-kernels: unpacked $pkg into $DIR/kernels/$version"
done
