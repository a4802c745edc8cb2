import * as k8s from '@kubernetes/client-node';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from './repo-root.js';
import { pollUntil } from './wait.js';

const fieldManager = 'nodeward-testenv';

/** The CRD manifests of this repository: crds/*.yaml. */
export async function repoCrdFiles(): Promise<string[]> {
  const dir = path.join(repoRoot(), 'crds');
  const names = (await readdir(dir)).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort();
  return names.map((name) => path.join(dir, name));
}

/** Parses the CustomResourceDefinitions in `files` (other documents are rejected). */
export async function loadCrds(files: readonly string[]): Promise<k8s.V1CustomResourceDefinition[]> {
  const crds: k8s.V1CustomResourceDefinition[] = [];
  for (const file of files) {
    for (const doc of k8s.loadAllYaml(await readFile(file, 'utf8')) as k8s.KubernetesObject[]) {
      if (doc.kind !== 'CustomResourceDefinition') throw new Error(`${file}: expected only CustomResourceDefinitions, got ${String(doc.kind)}`);
      crds.push(doc as k8s.V1CustomResourceDefinition);
    }
  }
  return crds;
}

/**
 * Server-side applies the CRDs in `files` and waits until each is Established (its names accepted and
 * its resource served). Returns the CRD names.
 */
export async function installCrds(kubeConfig: k8s.KubeConfig, files: readonly string[], timeoutMs = 30_000): Promise<string[]> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
  const api = kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  const crds = await loadCrds(files);
  for (const crd of crds) {
    await objects.patch(crd, undefined, undefined, fieldManager, true, k8s.PatchStrategy.ServerSideApply);
  }
  const names = crds.map((crd) => crd.metadata?.name ?? '');
  await Promise.all(names.map((name) => waitEstablished(api, name, timeoutMs)));
  return names;
}

async function waitEstablished(api: k8s.ApiextensionsV1Api, name: string, timeoutMs: number): Promise<void> {
  await pollUntil(
    `CRD ${name} Established`,
    async () => {
      const crd = await api.readCustomResourceDefinition({ name });
      const conditions = crd.status?.conditions ?? [];
      const failed = conditions.find((c) => c.type === 'NamesAccepted' && c.status === 'False');
      if (failed !== undefined) throw new Error(`CRD ${name} names not accepted: ${failed.message ?? ''}`);
      return conditions.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}
