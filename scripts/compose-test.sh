#!/usr/bin/env bash
# make compose-test: runs the real docker-compose.yml against a real Docker
# Engine (deploy/composetest holds the checks). It uses the engine that
# answers; as root with none, it installs Debian's docker.io and starts dockerd
# itself, and stops it at the end. Compose is built from the Go module proxy
# (deploy/compose-tool) and installed as a CLI plugin under .keyport/compose-test;
# the registry images are replaced by local stand-ins (deploy/standins).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
work=$PWD/.keyport/compose-test
mkdir -p "$work"

say() { echo "compose-test: $*"; }
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$work/apt.log" 2>&1 \
		|| { apt-get update >>"$work/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$work/apt.log" 2>&1; } \
		|| { tail -20 "$work/apt.log" >&2; exit 1; }
}

# The engine.
started=""
stop_engine() {
	if [ -n "$started" ]; then
		say "stopping the dockerd it started (pid $started)"
		kill "$started" 2>/dev/null || true
		for _ in $(seq 60); do kill -0 "$started" 2>/dev/null || break; sleep 0.5; done
	fi
}
trap stop_engine EXIT
if ! docker info >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		msg="no Docker engine answers and this is not root, so none can be installed: start one (or run as root)"
		if [ -n "${CI:-}" ]; then say "FAIL: $msg"; exit 1; fi
		say "SKIP: $msg"; exit 0
	fi
	if ! command -v dockerd >/dev/null; then
		t=$SECONDS
		apt_install docker.io
		say "installed docker.io in $((SECONDS - t)) s"
	fi
	# A docker.io just installed may have started through systemd; else start it.
	if ! docker info >/dev/null 2>&1; then
		dockerd >"$work/dockerd.log" 2>&1 &
		started=$!
		for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
		docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log" >&2; say "FAIL: dockerd did not answer"; exit 1; }
		say "started dockerd (pid $started; log $work/dockerd.log)"
	fi
fi
say "engine $(docker version -f '{{.Server.Version}}' 2>/dev/null)"

# Compose v5, pinned in deploy/compose-tool/go.mod, rebuilt when that changes;
# built in the background while the stand-ins are built.
export DOCKER_CONFIG=$work/docker
plugin=$DOCKER_CONFIG/cli-plugins/docker-compose
tool_hash=$({ cat deploy/compose-tool/go.mod deploy/compose-tool/go.sum; echo "ldflags-version=1"; } | sha256sum | cut -c1-16)
build_compose() {
	local t=$SECONDS version
	version=$(cd deploy/compose-tool && go list -m -f '{{.Version}}' github.com/docker/compose/v5)
	mkdir -p "$(dirname "$plugin")"
	(cd deploy/compose-tool && go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$version" \
		-o "$plugin" github.com/docker/compose/v5/cmd)
	echo "$tool_hash" >"$plugin.inputs"
	say "built Compose $version in $((SECONDS - t)) s"
}
compose_pid=""
if [ ! -x "$plugin" ] || [ "$(cat "$plugin.inputs" 2>/dev/null)" != "$tool_hash" ]; then
	build_compose >"$work/compose-build.log" 2>&1 &
	compose_pid=$!
fi

# The stand-ins for the registry images.
if ! command -v debootstrap >/dev/null && [ "$(id -u)" = 0 ]; then
	apt_install debootstrap
fi
t=$SECONDS
deploy/standins/build.sh
say "stand-ins ready in $((SECONDS - t)) s"
if [ -n "$compose_pid" ]; then
	wait "$compose_pid" || { tail -20 "$work/compose-build.log" >&2; say "FAIL: building Compose"; exit 1; }
	tail -1 "$work/compose-build.log"
fi
v=$(docker compose version --short)
v=${v#v}
[ "${v%%.*}" -ge 2 ] 2>/dev/null || { say "FAIL: docker compose is $v; the file needs v2 or later"; exit 1; }
say "Compose $v"

# The checks.
KEYPORT_COMPOSE_TEST=$work go test -count=1 -v -timeout 30m ./deploy/composetest
say "done in $((SECONDS - start)) s"
