#!/usr/bin/env bash
# Installs what Keyport's development and tests need and the machine lacks:
# the PostgreSQL server binaries and (for the browser tests) Chromium.
# A no-op when everything is present. Installs with apt-get when running as
# root on Debian/Ubuntu; otherwise prints the command to run.
set -euo pipefail

missing=()

have_pg() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  compgen -G '/opt/homebrew/opt/postgresql@*/bin/initdb' >/dev/null && return 0
  compgen -G '/usr/local/opt/postgresql@*/bin/initdb' >/dev/null && return 0
  return 1
}
have_pg || missing+=(postgresql)

if [ "${KEYPORT_SKIP_BROWSER:-}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # policy-rc.d keeps the package from starting a system-wide server: Keyport
  # runs its own clusters under .keyport/ or a temp dir.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "deps: installed ${missing[*]}" >&2
  exit 0
fi

case "$(uname -s)" in
  Darwin) hint="brew install ${missing[*]/postgresql/postgresql@15}" ;;
  *)      hint="sudo apt-get install ${missing[*]}" ;;
esac
echo "deps: missing ${missing[*]}; install with: $hint" >&2
exit 1
