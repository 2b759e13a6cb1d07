import type { SmsSimulator } from '@wxauth/wechat-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSmsProvider,
  parseSmsProviderConfig,
  SMS_VARIABLES,
  SmsConfigError,
} from '../../src/adapters/sms/create-sms-provider.ts';
import { createInboxProvider, isInboxProvider } from '../../src/adapters/sms/inbox-provider.ts';
import { createManualClock } from '../../src/clock.ts';
import { ALIYUN, message, startVendors, TENCENT } from './support.ts';

const TENCENT_ENV = {
  WXAUTH_SMS_PROVIDER: 'tencent',
  WXAUTH_SMS_TENCENT_SECRET_ID: TENCENT.secretId,
  WXAUTH_SMS_TENCENT_SECRET_KEY: TENCENT.secretKey,
  WXAUTH_SMS_TENCENT_SDK_APP_ID: TENCENT.sdkAppId,
  WXAUTH_SMS_TENCENT_SIGN_NAME: TENCENT.signName,
  WXAUTH_SMS_TENCENT_TEMPLATE_ID: TENCENT.templateId,
};
const ALIYUN_ENV = {
  WXAUTH_SMS_PROVIDER: 'aliyun',
  WXAUTH_SMS_ALIYUN_ACCESS_KEY_ID: ALIYUN.accessKeyId,
  WXAUTH_SMS_ALIYUN_ACCESS_KEY_SECRET: ALIYUN.accessKeySecret,
  WXAUTH_SMS_ALIYUN_SIGN_NAME: ALIYUN.signName,
  WXAUTH_SMS_ALIYUN_TEMPLATE_CODE: ALIYUN.templateCode,
};

/** The SmsConfigError thrown for `env`, checked to name `variable` and to leak no secret value. */
function configError(env: Record<string, string>, variable: string): SmsConfigError {
  let thrown: unknown;
  try {
    parseSmsProviderConfig(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(SmsConfigError);
  const error = thrown as SmsConfigError;
  expect(error.message).toContain(variable);
  for (const secret of [TENCENT.secretKey, TENCENT.secretId, ALIYUN.accessKeySecret, ALIYUN.accessKeyId]) {
    expect(error.message).not.toContain(secret);
  }
  return error;
}

describe('parseSmsProviderConfig', () => {
  it('defaults to the inbox', () => {
    expect(parseSmsProviderConfig({})).toEqual({ provider: 'inbox' });
    expect(parseSmsProviderConfig({ WXAUTH_SMS_PROVIDER: 'inbox' })).toEqual({ provider: 'inbox' });
  });

  it('reads a complete Tencent configuration, with the region default', () => {
    expect(parseSmsProviderConfig({ ...TENCENT_ENV, WXAUTH_SMS_TENCENT_ENDPOINT: '127.0.0.1:9' })).toEqual({
      provider: 'tencent',
      ...TENCENT,
      region: 'ap-guangzhou',
      endpoint: '127.0.0.1:9',
    });
  });

  it('reads a complete Aliyun configuration', () => {
    expect(parseSmsProviderConfig(ALIYUN_ENV)).toMatchObject({ provider: 'aliyun', ...ALIYUN });
  });

  it('names the missing variable, never a value', () => {
    for (const name of Object.keys(TENCENT_ENV).filter((n) => n !== 'WXAUTH_SMS_PROVIDER')) {
      configError({ ...TENCENT_ENV, [name]: ' ' }, name);
    }
    for (const name of Object.keys(ALIYUN_ENV).filter((n) => n !== 'WXAUTH_SMS_PROVIDER')) {
      const { [name]: _, ...env } = ALIYUN_ENV as Record<string, string>;
      configError(env, name);
    }
  });

  it('rejects an unknown provider, malformed ids, region and endpoints', () => {
    configError({ WXAUTH_SMS_PROVIDER: 'twilio' }, 'WXAUTH_SMS_PROVIDER');
    configError({ ...TENCENT_ENV, WXAUTH_SMS_TENCENT_SDK_APP_ID: 'app' }, 'WXAUTH_SMS_TENCENT_SDK_APP_ID');
    configError({ ...TENCENT_ENV, WXAUTH_SMS_TENCENT_REGION: 'Guangzhou!' }, 'WXAUTH_SMS_TENCENT_REGION');
    const plain = configError(
      { ...TENCENT_ENV, WXAUTH_SMS_TENCENT_ENDPOINT: 'http://sms.example.com' },
      'WXAUTH_SMS_TENCENT_ENDPOINT',
    );
    expect(plain.message).toMatch(/loopback/);
    configError(
      { ...ALIYUN_ENV, WXAUTH_SMS_ALIYUN_ENDPOINT: 'https://h/path?x=1' },
      'WXAUTH_SMS_ALIYUN_ENDPOINT',
    );
  });

  it('refuses vendor credentials without WXAUTH_SMS_PROVIDER (silently sending nothing in production)', () => {
    const { WXAUTH_SMS_PROVIDER: _, ...env } = ALIYUN_ENV;
    configError(env, 'WXAUTH_SMS_PROVIDER');
  });

  it('SMS_VARIABLES lists every variable it reads, secrets flagged', () => {
    const names = SMS_VARIABLES.map((v) => v.name);
    for (const name of [...Object.keys(TENCENT_ENV), ...Object.keys(ALIYUN_ENV)])
      expect(names).toContain(name);
    expect(names).toEqual(
      expect.arrayContaining(['WXAUTH_SMS_TENCENT_REGION', 'WXAUTH_SMS_TENCENT_ENDPOINT']),
    );
    expect(names).toContain('WXAUTH_SMS_ALIYUN_ENDPOINT');
    const secret = SMS_VARIABLES.filter((v) => 'secret' in v && v.secret).map((v) => v.name);
    expect(secret).toEqual(
      expect.arrayContaining(['WXAUTH_SMS_TENCENT_SECRET_KEY', 'WXAUTH_SMS_ALIYUN_ACCESS_KEY_SECRET']),
    );
    for (const v of SMS_VARIABLES) expect(v.description.length).toBeGreaterThan(10);
  });
});

describe('createSmsProvider', () => {
  let sim: SmsSimulator;
  beforeAll(async () => {
    sim = await startVendors();
  });
  afterAll(() => sim.close());
  const clock = createManualClock();

  it('builds the inbox without loading a vendor SDK', () => {
    const provider = createSmsProvider({ provider: 'inbox' }, { clock });
    expect(provider.name).toBe('inbox');
    expect(isInboxProvider(provider)).toBe(true);
  });

  it('builds working Tencent and Aliyun providers from parsed configuration', async () => {
    const tencent = createSmsProvider(
      parseSmsProviderConfig({ ...TENCENT_ENV, WXAUTH_SMS_TENCENT_ENDPOINT: sim.host }),
      { clock },
    );
    const aliyun = createSmsProvider(
      parseSmsProviderConfig({ ...ALIYUN_ENV, WXAUTH_SMS_ALIYUN_ENDPOINT: sim.host }),
      {
        clock,
      },
    );
    expect([tencent.name, aliyun.name]).toEqual(['tencent', 'aliyun']);
    const sent = message();
    await tencent.send(sent);
    await aliyun.send(sent);
    expect(sim.tencent?.lastCode(sent.phone)).toBe(sent.code);
    expect(sim.aliyun?.lastCode(sent.phone)).toBe(sent.code);
  });

  it('fails at construction, not at the first send, for a bad endpoint', () => {
    expect(() =>
      createSmsProvider(
        { provider: 'aliyun', ...ALIYUN, endpoint: 'http://dysmsapi.aliyuncs.com' },
        { clock },
      ),
    ).toThrow(/loopback/);
  });
});

describe('inbox provider', () => {
  it('keeps the newest messages first, filters by phone, and stays bounded', async () => {
    const clock = createManualClock(1_000);
    const inbox = createInboxProvider({ clock, max: 3 });
    for (const [phone, code] of [
      ['+8613800000001', '111111'],
      ['+8613800000002', '222222'],
      ['+8613800000001', '333333'],
      ['+8613800000001', '444444'],
    ] as const) {
      clock.advance(1000);
      await inbox.send({ phone, code, purpose: 'login', ttlMinutes: 5 });
    }
    expect(inbox.messages()).toEqual([
      { phone: '+8613800000001', code: '444444', sentAt: 5000 },
      { phone: '+8613800000001', code: '333333', sentAt: 4000 },
      { phone: '+8613800000002', code: '222222', sentAt: 3000 },
    ]);
    expect(inbox.messages('+8613800000001').map((m) => m.code)).toEqual(['444444', '333333']);
    inbox.messages()[0]!.code = 'mutated';
    expect(inbox.messages()[0]?.code).toBe('444444');
  });

  it('returns distinct message ids without the code', async () => {
    const inbox = createInboxProvider({ clock: createManualClock() });
    const a = await inbox.send({ phone: '+8613800000001', code: '123456', purpose: 'login', ttlMinutes: 5 });
    const b = await inbox.send({ phone: '+8613800000001', code: '123456', purpose: 'bind', ttlMinutes: 5 });
    expect(a.providerMessageId).not.toBe(b.providerMessageId);
    expect(a.providerMessageId).not.toContain('123456');
  });
});
