import { Agent } from 'node:https';
import {
  createConfiguration, KubeConfig, ServerConfiguration, type ApiConstructor, type ApiType, type RequestContext,
} from '@kubernetes/client-node';
import { nodeHttpLibrary } from './node-http-library.js';

/**
 * client-node (1.x) builds a new https.Agent for every API request, so every call pays a TCP + TLS
 * handshake and a fresh SecureContext (key, certificate and CA parsing). This KubeConfig keeps one
 * keep-alive agent per distinct TLS configuration and hands it to every request instead. Proxy agents
 * (and anything else that is not a plain https.Agent) are left as client-node made them. API clients
 * send through `nodeHttpLibrary`: node-fetch, client-node's default, fails requests on reused sockets.
 */
export class KeepAliveKubeConfig extends KubeConfig {
  private pooled: { id: string; agent: Agent } | undefined;

  constructor(private readonly maxSockets = 16) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getAgent();
    if (made === undefined || made.constructor !== Agent) return;
    const o = made.options;
    // The TLS material is re-read by client-node on every request: a rotated certificate gets a new agent.
    const id = JSON.stringify([o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]);
    if (this.pooled?.id !== id) {
      this.pooled?.agent.destroy();
      this.pooled = { id, agent: new Agent({ ...o, keepAlive: true, maxSockets: this.maxSockets }) };
    }
    context.setAgent(this.pooled.agent);
  }

  override makeApiClient<T extends ApiType>(apiClientType: ApiConstructor<T>): T {
    const cluster = this.getCurrentCluster();
    if (cluster === null) throw new Error('No active cluster!');
    return new apiClientType(createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: this }, httpApi: nodeHttpLibrary,
    }));
  }

  /** Closes the pooled keep-alive sockets. */
  closeIdle(): void {
    this.pooled?.agent.destroy();
    this.pooled = undefined;
  }
}

/** A kubeconfig file when given (or KUBECONFIG), in-cluster service account otherwise. */
export function loadKubeConfig(kubeconfigPath?: string): KeepAliveKubeConfig {
  const kc = new KeepAliveKubeConfig();
  if (kubeconfigPath !== undefined && kubeconfigPath !== '') kc.loadFromFile(kubeconfigPath);
  else if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined && process.env['KUBECONFIG'] === undefined) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}
