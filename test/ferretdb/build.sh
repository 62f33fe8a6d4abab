#!/usr/bin/env bash
# Builds FerretDB 1.24.2 (a MongoDB-wire server in Go) once and prints the
# binary's path. The module's source is taken from the Go module proxy; the
# release's build/version/version.txt is not in the module, so a plain
# `go install` yields a binary that panics at start: the copy gets that file.
set -euo pipefail
version=v1.24.2
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tenantproxy"
bin="$cache/ferretdb-$version"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache"
dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "ferretdb: module download failed" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
mkdir -p "$work/build/version"
echo "$version" > "$work/build/version/version.txt"
(cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" ./cmd/ferretdb) >&2
mv "$bin.tmp" "$bin"
echo "$bin"
