import { ConfigError } from './config.js';
import { parseBootstrapArgs } from './bootstrap-main.js';

describe('parseBootstrapArgs', () => {
  const ok = ['--api-server', 'https://10.0.0.1:6443', '--node-name', 'worker-1'];

  it('takes flags over environment over defaults', () => {
    const a = parseBootstrapArgs(ok, { NODEWARD_KUBELET_CERT_DIR: '/x/pki', NODE_NAME: 'ignored' });
    expect(a['api-server']).toBe('https://10.0.0.1:6443');
    expect(a['node-name']).toBe('worker-1');
    expect(a['cert-dir']).toBe('/x/pki');
    expect(a.kubeconfig).toBe('/var/lib/kubelet/kubeconfig');
  });

  it.each([
    [['--node-name', 'worker-1'], /--api-server/],
    [['--api-server', 'http://10.0.0.1:6443', '--node-name', 'w'], /--api-server/],
    [['--api-server', 'https://10.0.0.1:6443'], /--node-name/],
    [['--api-server', 'https://10.0.0.1:6443', '--node-name', 'Bad_Name'], /--node-name/],
    [[...ok, '--timeout-seconds', 'soon'], /whole seconds/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseBootstrapArgs(argv, {})).toThrow(ConfigError);
    expect(() => parseBootstrapArgs(argv, {})).toThrow(message);
  });
});
