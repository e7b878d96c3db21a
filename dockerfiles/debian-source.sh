#!/bin/sh
# debian-source.sh PACKAGE DEST: unpacks Debian's source package PACKAGE into DEST with its
# Debian patches applied, as `apt-get source` would, for builder stages of reference images.
#
# Why not `apt-get source`: dpkg-source refuses to unpack when a file the .dsc lists is
# missing, and mirrors (this machine's included) may not carry the upstream signature
# (*.orig.tar.*.asc). apt still checks every file it fetches against the signed Sources
# index, and each file is checked here against the .dsc's SHA-256 list; only the upstream
# signature may be absent. A deb-src entry is added for the suites apt already uses when
# there is none. Needs dpkg-dev (for apt's source handling), patch and xz-utils.
set -eu
package=$1 dest=$2
if ! grep -rqs '^deb-src\|^Types:.*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d; then
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then  # deb822, as in debian:*-slim
    sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
  else  # one-line format, as debootstrap writes it
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >> /etc/apt/sources.list
  fi
fi
apt-get update -qq
work=$(mktemp -d)
cd "$work"
apt-get source --download-only "$package" >/dev/null 2>apt.log || true
dsc=$(ls "$package"_*.dsc 2>/dev/null) || { cat apt.log >&2; exit 1; }
sed -n '/^Checksums-Sha256:/,/^[^ ]/s/^ \([0-9a-f]\{64\}\) [0-9]* \(.*\)$/\1  \2/p' "$dsc" \
  | grep -v '\.asc$' > sums
sha256sum -c --quiet sums || { cat apt.log >&2; exit 1; }
version=$(sed -n 's/^Version: //p' "$dsc")
mkdir -p "$dest"
for tarball in "$package"_*.orig.tar.*; do
  case $tarball in *.asc) continue ;; esac
  tar -xf "$tarball" -C "$dest" --strip-components=1
done
tar -xf "$package"_*.debian.tar.* -C "$dest"
cd "$dest"
if [ -f debian/patches/series ]; then
  sed -e 's/#.*//' debian/patches/series | while read -r patch options; do
    [ -z "$patch" ] || patch -p1 -s --no-backup-if-mismatch $options < "debian/patches/$patch"
  done
fi
rm -rf "$work"
echo "debian-source: $package $version unpacked in $dest" >&2
