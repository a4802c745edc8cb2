import * as k8s from '@kubernetes/client-node';
import { K8s, kind } from 'kubernetes-fluent-client';
import { X509CertificateGenerator } from '@peculiar/x509';
import { ByteReader } from '@nodeward/attest';
it('loads the ESM-only libraries', () => {
  expect(typeof k8s.KubeConfig).toBe('function');
  expect(typeof K8s).toBe('function');
  expect(kind.Node).toBeDefined();
  expect(typeof X509CertificateGenerator.create).toBe('function');
  expect(typeof ByteReader).toBe('function');
});
