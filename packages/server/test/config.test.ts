import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load-config.ts';

describe('configuration', () => {
  it('runs in dev mode with defaults when no app is configured', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      devMode: true,
      apps: [],
      port: 3000,
      host: '127.0.0.1',
      accessTokenTtlSec: 900,
      maxSessions: 10,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads apps from WXAUTH_APPS and the single-app shortcut, and then requires keys', () => {
    const env = {
      WXAUTH_APPS: JSON.stringify([{ appId: 'wx1234567890abcdef', secret: 's1' }]),
      WXAUTH_APP_ID: 'wxabcdef1234567890',
      WXAUTH_APP_SECRET: 's2',
    };
    expect(() => loadConfig(env)).toThrow(/WXAUTH_KEYS/);
    const config = loadConfig({
      ...env,
      WXAUTH_KEYS: '{}',
      WXAUTH_WECHAT_API_BASE_URL: 'http://127.0.0.1:9/',
    });
    expect(config.devMode).toBe(false);
    expect(config.apps.map((a) => [a.appId, a.apiBaseUrl])).toEqual([
      ['wx1234567890abcdef', 'http://127.0.0.1:9'],
      ['wxabcdef1234567890', 'http://127.0.0.1:9'],
    ]);
  });

  it.each([
    [{ PORT: 'abc' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ WXAUTH_APPS: 'not json' }, /WXAUTH_APPS is not valid JSON/],
    [{ WXAUTH_APPS: '{}' }, /array/],
    [{ WXAUTH_APPS: '[{"appId":"wx1234567890abcdef"}]' }, /secret is missing/],
    [{ WXAUTH_APPS: '[{"appId":"no spaces allowed","secret":"x"}]' }, /appId/],
    [{ WXAUTH_LOG_LEVEL: 'loud' }, /WXAUTH_LOG_LEVEL/],
    [{ WXAUTH_REFRESH_IDLE_TTL: '9999999', WXAUTH_REFRESH_ABSOLUTE_TTL: '600' }, /must not exceed/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never puts a secret value in an error message', () => {
    const secret = 'super-secret-value-123';
    try {
      loadConfig({ WXAUTH_APPS: JSON.stringify([{ appId: 'bad id', secret }]) });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain(secret);
    }
  });
});
