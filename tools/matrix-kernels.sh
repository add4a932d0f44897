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

# Where the host's apt is not Debian's (GitHub's Ubuntu runners), Debian
# bookworm's packages come through a private apt configuration under
# target/matrix/apt/: the host's sources and lists stay as they are.
# TD_DEBIAN_APT=1 uses it on any machine.
APT=()
debian_apt() {
  local d keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  d="$PWD/$DIR/apt"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/preferences.d"
  if [ ! -s "$keyring" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debian-archive-keyring >/dev/null
  fi
  printf 'deb [signed-by=%s] http://deb.debian.org/debian bookworm main\ndeb [signed-by=%s] http://deb.debian.org/debian-security bookworm-security main\n' \
    "$keyring" "$keyring" >"$d/sources.list"
  APT=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache"
       -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$d/preferences.d")
  echo "matrix-kernels: Debian bookworm's packages through a private apt configuration ($d)"
  apt-get "${APT[@]}" update -qq
}
newest() { apt-cache "${APT[@]}" search --names-only "$1" | awk '{print $1}' | sort -V | tail -1; }
V61='^linux-image-6\.1\.0-[0-9]+-amd64$'
V612='^linux-image-6\.12\.[0-9]+\+deb12-amd64$'
if [ "${TD_DEBIAN_APT:-}" = 1 ] || { [ $# -eq 0 ] && [ -z "$(newest "$V61")" ]; } \
   || { [ $# -gt 0 ] && ! grep -q '^ID=debian' /etc/os-release 2>/dev/null; }; then
  debian_apt
fi
if [ $# -gt 0 ]; then
  packages=("$@")
else
  packages=("$(newest "$V61")" "$(newest "$V612")")
fi
for pkg in "${packages[@]}"; do
  [ -n "$pkg" ] || { echo "matrix-kernels: no such kernel package in the Debian registry (apt-get update?)" >&2; exit 3; }
  version=${pkg#linux-image-}
  if [ -e "$DIR/kernels/$version/boot/vmlinuz-$version" ]; then
    echo "matrix-kernels: $version is unpacked"
    continue
  fi
  (cd "$DIR/debs" && apt-get "${APT[@]}" download -q "$pkg" >/dev/null 2>&1 || apt-get "${APT[@]}" download "$pkg")
  deb=$(ls -t "$DIR/debs/${pkg}_"*.deb | head -1)
  rm -rf "$DIR/kernels/$version.tmp"
  dpkg-deb -x "$deb" "$DIR/kernels/$version.tmp"
  mv "$DIR/kernels/$version.tmp" "$DIR/kernels/$version"
  echo "matrix-kernels: unpacked $pkg into $DIR/kernels/$version"
done
