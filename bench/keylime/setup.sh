#!/usr/bin/env bash
# A Python venv with Keylime (from PyPI) in the cache, outside the git tree. Prints the python path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${NODEWARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeward}/keylime-venv
sum=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.req-sum" 2>/dev/null)" != "$sum" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
  echo "$sum" >"$venv/.req-sum"
fi
echo "$venv/bin/python"
