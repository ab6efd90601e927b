#!/usr/bin/env bash
# Installs the onnxruntime shared library that kprune uses into .ort/ (git-ignored), taken from
# the onnxruntime-node npm package, and verifies its SHA-256. Idempotent: does nothing when the
# right library is already there. Needs npm and tar.
#
#   scripts/get-onnxruntime.sh [DEST_DIR]     (default: .ort next to this script's parent)
set -euo pipefail

VERSION=1.30.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-$here/../.ort}"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)  src="bin/napi-v6/linux/x64/libonnxruntime.so.1";  name="libonnxruntime.so.1"
                 sum="ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23" ;;
  Linux-aarch64|Linux-arm64) src="bin/napi-v6/linux/arm64/libonnxruntime.so.1"; name="libonnxruntime.so.1"
                 sum="1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76" ;;
  Darwin-arm64)  src="bin/napi-v6/darwin/arm64/libonnxruntime.1.30.0.dylib"; name="libonnxruntime.dylib"
                 sum="685d2be5dba1309c89d3a5324b7fd06a5c42f1a61bfea32d14c4cc28d072121d" ;;
  *) echo "get-onnxruntime: no onnxruntime-node@$VERSION library for $(uname -s)-$(uname -m); install onnxruntime >= $VERSION yourself and set KPRUNE_ORT_LIB to its path" >&2; exit 1 ;;
esac

sha() { if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi; }

mkdir -p "$dest"
if [ -f "$dest/$name" ] && [ "$(sha "$dest/$name")" = "$sum" ]; then
  echo "onnxruntime $VERSION already installed: $dest/$name"
  exit 0
fi
command -v npm >/dev/null || { echo "get-onnxruntime: npm is needed to fetch onnxruntime-node@$VERSION (apt-get install npm)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetching onnxruntime-node@$VERSION from the npm registry..."
(cd "$tmp" && npm pack --silent "onnxruntime-node@$VERSION" >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-$VERSION.tgz -C "$tmp" "package/$src"
got="$(sha "$tmp/package/$src")"
if [ "$got" != "$sum" ]; then
  echo "get-onnxruntime: checksum mismatch for $src: got $got, want $sum" >&2
  exit 1
fi
mv "$tmp/package/$src" "$dest/$name.part"
mv "$dest/$name.part" "$dest/$name"
echo "installed onnxruntime $VERSION: $dest/$name"
