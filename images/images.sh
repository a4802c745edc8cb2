#!/usr/bin/env bash
# images/images.sh OUTDIR: `make images`. Builds every image (images/*/image.json) into OUTDIR/IMAGE.oci.tar
# and writes OUTDIR/digests ("IMAGE sha256:…" lines, the manifest digests). An archive is cached in
# ~/.cache/nodeward/images under a key of all its inputs; a fresh build is made twice and must give the
# same bytes (NODEWARD_IMAGES_VERIFY=0 skips the second build), so a reproducibility regression fails here.
# The Debian packages are whatever the mirror serves for bookworm at build time (point releases and
# security updates change them: the key then differs from a rebuild's only through those packages).
set -euo pipefail
outdir=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="${NODEWARD_CACHE_DIR:-$HOME/.cache/nodeward}/images"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}
mkdir -p "$outdir" "$cache"
: >"$outdir/digests.part"
for spec in "$repo"/images/*/image.json; do
  image=$(basename "$(dirname "$spec")")
  key=$( (echo "$SOURCE_DATE_EPOCH ${IMAGE_TAG:-} $(bash "$repo/e2e/node-version.sh" version)"
          cd "$repo" && sha256sum "images/$image/image.json" images/rootfs.sh images/build.sh package.json package-lock.json */package.json
          find attest agent operator cli -path '*/dist/*' -name '*.js' ! -name '*.test.js' -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-24)
  archive="$cache/$image-$key.oci.tar"
  if [ ! -f "$archive" ]; then
    echo "images: building $image" >&2
    # Private build directories: another checkout may build the same key at the same time.
    build=$(mktemp -d "$cache/build-XXXXXX")
    bash "$repo/images/build.sh" "$image" "$build/1" >/dev/null
    if [ "${NODEWARD_IMAGES_VERIFY:-1}" = 1 ]; then
      bash "$repo/images/build.sh" "$image" "$build/2" >/dev/null
      if ! cmp -s "$build/1/$image.oci.tar" "$build/2/$image.oci.tar"; then
        echo "images: two builds of $image differ: $build/1 $build/2" >&2
        exit 1
      fi
    fi
    mv "$build/1/$image.oci.tar" "$archive" && rm -rf "$build"
    # Keep the three newest archives of each image (other checkouts may share the cache).
    ls -t "$cache/$image"-*.oci.tar | tail -n +4 | xargs -r rm -f
  fi
  cp "$archive" "$outdir/$image.oci.tar"
  digest=$(tar -xOf "$archive" ./index.json | node -p 'JSON.parse(require("fs").readFileSync(0,"utf8")).manifests[0].digest')
  echo "$image $digest" >>"$outdir/digests.part"
  echo "images: $image $digest $(du -h "$archive" | cut -f1) archive, $(tar -tvf "$archive" | awk '{s+=$3} END {printf "%.0f MB", s/1e6}') in blobs" >&2
done
mv "$outdir/digests.part" "$outdir/digests"
