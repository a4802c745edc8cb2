#!/usr/bin/env bash
# Builds the pinned kube-apiserver and etcd from Go modules into a cache outside the git tree.
# Prints the directory holding the binaries on its last line of stdout; progress goes to stderr.
# KUBEBUILDER_ASSETS, when it holds both binaries, is used as is and nothing is built.
#
# `build.sh kube-controller-manager` instead builds the kube-controller-manager of the same Kubernetes
# version (module kcm/, its own cache directory and stamp) and prints the directory holding it; it too
# is taken from KUBEBUILDER_ASSETS when that directory has it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
k8s_version=$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$here/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3" {print $2; exit}' "$here/go.mod")
target=${1:-kube-apiserver+etcd}
case "$target" in
  kube-apiserver+etcd) ;;
  kube-controller-manager)
    kcm_version=$(awk '{ for (i = 1; i < NF; i++) if ($i == "k8s.io/kubernetes" && $(i+1) ~ /^v/) { print $(i+1); exit } }' "$here/kcm/go.mod")
    if [ "$kcm_version" != "$k8s_version" ]; then
      echo "testenv: kcm/go.mod pins Kubernetes $kcm_version but go.mod pins $k8s_version" >&2
      exit 1
    fi
    ;;
  *) echo "testenv: unknown target '$target' (kube-controller-manager, or nothing for kube-apiserver+etcd)" >&2; exit 2 ;;
esac

if [ "$target" = kube-controller-manager ] && [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-controller-manager" ]; then
  echo "testenv: using kube-controller-manager from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS (nothing built)" >&2
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi
if [ "$target" = kube-apiserver+etcd ] && [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
    echo "testenv: using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS (nothing built)" >&2
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "testenv: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks kube-apiserver or etcd; building instead" >&2
fi

cache_root=${NODEWARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeward}/testenv
if [ "$target" = kube-controller-manager ]; then
  cache=$cache_root/k8s-$k8s_version-kube-controller-manager
else
  cache=$cache_root/k8s-$k8s_version-etcd-$etcd_version
fi
mkdir -p "$cache"
# One build at a time per cache (tests, the demo and a developer may all ask at once).
exec 9>"$cache/.lock"
flock 9
stamp="$cache/.source-sum"
if [ "$target" = kube-controller-manager ]; then
  want_sum=$(cat "$here/kcm/go.mod" "$here/kcm/go.sum" | sha256sum | cut -d' ' -f1)
else
  want_sum=$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/main.go" | sha256sum | cut -d' ' -f1)
fi

build_one() { # name package [module dir]
  local name=$1 pkg=$2 mod=${3:-$here} log="$cache/$1.build.log" total done_count
  echo "testenv: building $name ($pkg) — a cold build takes several minutes on 2 cores" >&2
  total=$(cd "$mod" && go list -deps "$pkg" 2>/dev/null | wc -l)
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -v -o "$cache/$name.tmp" "$pkg") >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    done_count=$(wc -l <"$log")
    printf '\rtestenv: %s: %s/%s packages compiled' "$name" "$done_count" "$total" >&2
    sleep 5
  done
  if ! wait "$pid"; then
    echo >&2; echo "testenv: building $name failed; last lines of $log:" >&2; tail -20 "$log" >&2
    return 1
  fi
  mv "$cache/$name.tmp" "$cache/$name"
  echo >&2; echo "testenv: $name built" >&2
}

if [ "$target" = kube-controller-manager ]; then
  if [ -x "$cache/kube-controller-manager" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_sum" ]; then
    echo "testenv: cached kube-controller-manager $k8s_version in $cache" >&2
  else
    command -v go >/dev/null || { echo "testenv: Go is required to build kube-controller-manager" >&2; exit 1; }
    build_one kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$here/kcm"
    echo "$want_sum" >"$stamp"
  fi
  echo "$cache"
  exit 0
fi

if [ -x "$cache/kube-apiserver" ] && [ -x "$cache/etcd" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_sum" ]; then
  echo "testenv: cached kube-apiserver $k8s_version and etcd $etcd_version in $cache" >&2
  echo "$cache"
  exit 0
fi

command -v go >/dev/null || { echo "testenv: Go is required to build kube-apiserver and etcd" >&2; exit 1; }
build_one kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
if build_one etcd ./etcd; then
  echo "go.etcd.io/etcd/server/v3 $etcd_version (built from Go modules)" >"$cache/etcd.source"
elif command -v etcd >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq etcd-server >&2; }; then
  ln -sf "$(command -v etcd)" "$cache/etcd"
  echo "Debian etcd-server $(etcd --version | head -1) (fallback: Go build failed)" >"$cache/etcd.source"
  echo "testenv: etcd build failed; using Debian etcd-server (recorded in $cache/etcd.source)" >&2
else
  exit 1
fi
echo "$want_sum" >"$stamp"
echo "$cache"
