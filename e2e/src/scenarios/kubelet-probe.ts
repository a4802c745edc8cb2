import * as k8s from '@kubernetes/client-node';

/** What one write by a kubelet identity got: allowed, or refused with the API server's status message. */
export type ProbeResult = { allowed: true } | { allowed: false; code: number; message: string };

/**
 * One write as the node's kubelet makes them all day: a merge patch of its own Node (an annotation, so
 * no selector or NodeRestriction rule is involved). Any answer but success or a 403 throws.
 */
export async function probeKubeletWrite(kubelet: k8s.KubeConfig, nodeName: string, value: string): Promise<ProbeResult> {
  const core = kubelet.makeApiClient(k8s.CoreV1Api);
  try {
    await core.patchNode({ name: nodeName, body: { metadata: { annotations: { 'probe.nodeward.test/write': value } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    return { allowed: true };
  } catch (e) {
    if (e instanceof k8s.ApiException && e.code === 403) {
      const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
      const message = (JSON.parse(body) as { message?: string }).message ?? body;
      return { allowed: false, code: e.code, message };
    }
    throw e;
  }
}
