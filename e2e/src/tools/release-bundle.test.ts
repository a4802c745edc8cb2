import { parseDigests, pinImages } from './release-bundle.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const MANIFESTS = [
  'kind: Deployment', '        - image: ghcr.io/nodeward/operator:0.1.0', '          name: operator',
  'kind: DaemonSet', '          image: ghcr.io/nodeward/agent:0.1.0', '          image: quay.io/other/thing:1',
].join('\n');

describe('release bundle', () => {
  it('pins every Nodeward image by digest and leaves others alone', () => {
    const out = pinImages(MANIFESTS, parseDigests(`agent ${D2}\noperator ${D1}\n`));
    expect(out).toContain(`- image: ghcr.io/nodeward/operator:0.1.0@${D1}`);
    expect(out).toContain(`  image: ghcr.io/nodeward/agent:0.1.0@${D2}`);
    expect(out).toContain('image: quay.io/other/thing:1');
  });

  it('moves the images to another registry and tag', () => {
    const out = pinImages(MANIFESTS, undefined, { registry: 'registry.example/sec/', tag: '0.2.0' });
    expect(out).toContain('image: registry.example/sec/operator:0.2.0\n');
    expect(out).toContain('image: registry.example/sec/agent:0.2.0\n');
  });

  it.each([
    ['an image without a digest', `operator ${D1}\n`, /no digest for image agent/],
    ['a digest for an image nothing runs', `agent ${D2}\noperator ${D1}\ncli ${D1}\n`, /cli is not referenced/],
    ['a malformed digest line', 'operator sha256:abc\n', /not "image sha256/],
  ])('refuses %s', (_what, digests, error) => {
    expect(() => pinImages(MANIFESTS, parseDigests(digests))).toThrow(error);
  });
});
