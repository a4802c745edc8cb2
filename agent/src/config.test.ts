import { ConfigError, loadAgentConfig, parseAgentArgs, parseKeepAliveTimeout, parseListen } from './config.js';

describe('agent configuration', () => {
  it('takes flags over environment over defaults', () => {
    const a = parseAgentArgs(['--listen', '127.0.1.2:9443', '--ak-type', 'ecc'], { NODEWARD_AK_TYPE: 'rsa', NODEWARD_TCTI: 'swtpm:port=1' });
    expect(a).toMatchObject({ listen: '127.0.1.2:9443', 'ak-type': 'ecc', tcti: 'swtpm:port=1', 'ak-handle': '0x81010002', 'host-root': '/' });
    expect(() => parseAgentArgs(['--nope'], {})).toThrow();
  });
  it('validates listen, handle and AK type', async () => {
    expect(parseListen('127.0.1.2:9443')).toEqual({ host: '127.0.1.2', port: 9443 });
    expect(parseListen('[::1]:1')).toEqual({ host: '::1', port: 1 });
    expect(() => parseListen('nope')).toThrow(ConfigError);
    await expect(loadAgentConfig(parseAgentArgs(['--ak-type', 'dsa'], {}))).rejects.toThrow(ConfigError);
    await expect(loadAgentConfig(parseAgentArgs(['--ak-handle', '0x80000000'], {}))).rejects.toThrow(ConfigError);
    await expect(loadAgentConfig(parseAgentArgs(['--ek-handle', '0x1c00002'], {}))).rejects.toThrow(/ek-handle/);
    await expect(loadAgentConfig(parseAgentArgs(['--ek-handle', '0x81010002'], {}))).rejects.toThrow(/must differ/);
  });
  it('keeps idle connections 75 s by default, configurable in whole seconds up to the longest interval (1 h)', async () => {
    expect(parseAgentArgs([], {})['keep-alive-timeout']).toBe('75');
    expect(parseAgentArgs([], { NODEWARD_KEEP_ALIVE_TIMEOUT: '120' })['keep-alive-timeout']).toBe('120');
    expect(parseKeepAliveTimeout('75')).toBe(75_000);
    expect(parseKeepAliveTimeout('3600')).toBe(3_600_000);
    for (const bad of ['0', '3601', '1.5', '-1', '', '75s']) expect(() => parseKeepAliveTimeout(bad)).toThrow(ConfigError);
    await expect(loadAgentConfig(parseAgentArgs(['--keep-alive-timeout', '0'], {}))).rejects.toThrow(/keep-alive-timeout/);
  });
});
