#!/usr/bin/env bash
# Builds the stand-ins for the registry images docker-compose.yml and the
# Dockerfile name, and tags them with exactly those names (README.md says
# why). Each image carries a label with the hash of its inputs; an image whose
# label matches is kept, so a second run on the same machine builds nothing.
# Needs a Docker engine, and debootstrap (as root) when the base is built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
label=org.keyport.standin.inputs
suite=bookworm
# The machine's own Debian mirror (what apt uses here), or STANDIN_MIRROR.
mirror=${STANDIN_MIRROR:-$(grep -hsE '^[[:space:]]*(deb[[:space:]]|URIs:)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
	| grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | tr -d '[:space:]' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
export DOCKER_BUILDKIT=0 # the engine's classic builder: no buildx plugin, no frontend image to fetch

# build ARGS…: docker build, quiet unless it fails (the CLI's notice about
# the classic builder is noise here).
build() {
	local out
	if ! out=$(docker build -q "$@" 2>&1); then
		echo "$out" >&2
		return 1
	fi
}
current() { docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true; }
sum() { sha256sum | cut -c1-16; }
# fresh NAME HASH: true (and a line) when NAME already holds HASH's build.
fresh() {
	if [ "$(current "$1")" = "$2" ]; then
		echo "stand-in $1: cached ($2)"
		return 0
	fi
	echo "stand-in $1: building ($2)"
	return 1
}

# The shared Debian base: debootstrap's minbase from the machine's mirror.
base=keyport-standin/debian:$suite
# Bump recipe when the way the base is made changes.
recipe=1
base_hash=$(printf '%s\n' "$suite" "$mirror" minbase "$recipe" | sum)
if ! fresh "$base" "$base_hash"; then
	command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
	root=$(mktemp -d /var/tmp/keyport-standin-rootfs.XXXXXX)
	trap 'rm -rf "$root"' EXIT
	start=$SECONDS
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
	rm -f "$root.log"
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
	tar -C "$root" -c . | docker import \
		--change "LABEL $label=$base_hash" \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' - "$base" >/dev/null
	rm -rf "$root"
	trap - EXIT
	echo "stand-in $base: debootstrap from $mirror in $((SECONDS - start)) s"
fi

# postgres:15-alpine
pg_hash=$(cat "$here"/postgres/* | { cat; echo "$base_hash"; } | sum)
if ! fresh postgres:15-alpine "$pg_hash"; then
	build --label "$label=$pg_hash" -t postgres:15-alpine "$here/postgres"
fi

# golang:1.26-bookworm: the machine's GOROOT and CA bundle, its module settings.
goroot=$(go env GOROOT)
ca=/etc/ssl/certs/ca-certificates.crt
goenv=(GOPROXY GOSUMDB GOFLAGS GOPRIVATE GONOPROXY GONOSUMDB)
args=()
for v in "${goenv[@]}"; do args+=(--build-arg "$v=$(go env "$v")"); done
go_hash=$({ cat "$here/golang/Dockerfile"; go version; echo "$goroot"; printf '%s\n' "${args[@]}"; sha256sum <"$ca"; echo "$base_hash"; } | sum)
if ! fresh golang:1.26-bookworm "$go_hash"; then
	# The context is a tar stream: the Dockerfile, go/ and the CA bundle,
	# without copying the toolchain anywhere first.
	tar -c -C "$here/golang" Dockerfile -C "$(dirname "$goroot")" --transform "s,^$(basename "$goroot"),go," "$(basename "$goroot")" \
		-C "$(dirname "$ca")" "$(basename "$ca")" \
		| build --label "$label=$go_hash" "${args[@]}" -t golang:1.26-bookworm -
fi

# gcr.io/distroless/static-debian12:nonroot
tz=$(dpkg-query -W -f '${Version}' tzdata 2>/dev/null || find /usr/share/zoneinfo -type f | sort | xargs cat | sum)
dl_hash=$({ cat "$here"/distroless/*; sha256sum <"$ca"; echo "$tz"; } | sum)
if ! fresh gcr.io/distroless/static-debian12:nonroot "$dl_hash"; then
	ctx=$(mktemp -d)
	cp "$here"/distroless/* "$ctx"/
	cp "$ca" "$ctx/ca-certificates.crt"
	cp -a /usr/share/zoneinfo "$ctx/zoneinfo"
	mkdir -p "$ctx/home/nonroot" "$ctx/tmp"
	chmod 1777 "$ctx/tmp"
	build --label "$label=$dl_hash" -t gcr.io/distroless/static-debian12:nonroot "$ctx"
	rm -rf "$ctx"
fi
