#!/usr/bin/env bash
# images/build.sh IMAGE OUTDIR: OCI image archive OUTDIR/IMAGE.oci.tar (skopeo's `oci-archive:`) of
# images/IMAGE/image.json, without a Docker daemon or a registry: images/rootfs.sh writes the root
# filesystem, this script packs it as one layer. Reproducible: every mtime is SOURCE_DATE_EPOCH (the last
# commit's time unless set), entries sorted, owners numeric 0 (the operator runs as 65532 and writes
# nothing), no atime/ctime, `gzip -n`, and the config's `created` from the same epoch. Prints the digest.
set -euo pipefail
image=$1 outdir=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
spec="$repo/images/$image/image.json"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}
tag=${IMAGE_TAG:-$(node -p 'require(process.argv[1]).version' "$repo/package.json")}
work=$(mktemp -d "${TMPDIR:-/tmp}/nodeward-image-XXXXXX")
trap 'rm -rf "$work"' EXIT
bash "$repo/images/rootfs.sh" "$image" "$work/rootfs"

reproducible_tar() { # DIR: a tar of DIR's contents on stdout, the same bytes for the same files
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$1" -cf - .
}
mkdir -p "$work/oci/blobs/sha256"
reproducible_tar "$work/rootfs" >"$work/layer.tar"
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -6 <"$work/layer.tar" >"$work/layer.tar.gz"
layer=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
mv "$work/layer.tar.gz" "$work/oci/blobs/sha256/$layer"
rm "$work/layer.tar"

# config, manifest, index: JSON with keys in a fixed order.
node - "$spec" "$work/oci" "$diff_id" "$layer" "$tag" <<'JS'
const fs = require('node:fs'), crypto = require('node:crypto'), path = require('node:path');
const [spec, oci, diffId, layer, tag] = process.argv.slice(2);
const s = JSON.parse(fs.readFileSync(spec, 'utf8'));
const created = new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString();
const blob = (obj) => {
  const bytes = Buffer.from(JSON.stringify(obj));
  const digest = crypto.createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(path.join(oci, 'blobs/sha256', digest), bytes);
  return { digest: `sha256:${digest}`, size: bytes.length };
};
const title = `nodeward-${s.name}`;
const config = blob({
  created, architecture: 'amd64', os: 'linux',
  config: {
    User: s.user, WorkingDir: s.workingDir,
    Env: s.env,
    ...(s.entrypoint.length > 0 ? { Entrypoint: s.entrypoint } : {}),
    ...(s.cmd.length > 0 ? { Cmd: s.cmd } : {}),
    Labels: { 'org.opencontainers.image.title': title, 'org.opencontainers.image.version': tag },
  },
  rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
  history: [{ created, created_by: `images/build.sh ${s.name}` }],
});
const layerSize = fs.statSync(path.join(oci, 'blobs/sha256', layer)).size;
const manifest = blob({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layer}`, size: layerSize }],
  annotations: { 'org.opencontainers.image.created': created, 'org.opencontainers.image.title': title, 'org.opencontainers.image.version': tag },
});
fs.writeFileSync(path.join(oci, 'index.json'), JSON.stringify({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
}));
fs.writeFileSync(path.join(oci, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
process.stdout.write(`${manifest.digest}\n`);
JS
mkdir -p "$outdir"
reproducible_tar "$work/oci" >"$outdir/$image.oci.tar.part"
mv "$outdir/$image.oci.tar.part" "$outdir/$image.oci.tar"
