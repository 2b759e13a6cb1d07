import { createHash, createHmac, randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type AliyunSmsSimOptions, type SmsSimulator, startSmsSimulator } from '../src/index.ts';

const ACCOUNT = { accessKeyId: 'LTAItestAliyun', accessKeySecret: 'aliyun-test-secret' };
const BASE = Date.UTC(2026, 0, 15, 8, 0, 0);
const PHONE = '+8613800138000';

interface Fixture {
  sim: SmsSimulator;
  now(): number;
  advance(ms: number): void;
}

async function start(options: Partial<AliyunSmsSimOptions> = {}): Promise<Fixture> {
  const sim = await startSmsSimulator({
    aliyun: { ...ACCOUNT, signName: 'wxauth', templateCode: 'SMS_1', ...options },
    now: () => BASE,
    seed: 1,
  });
  onTestFinished(() => sim.close());
  let offset = 0;
  return {
    sim,
    now: () => BASE + offset,
    advance(ms) {
      sim.advanceClock(ms);
      offset += ms;
    },
  };
}

/** RFC 3986, as Aliyun's V3 signature document specifies. */
const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Overrides {
  accessKeyId?: string;
  accessKeySecret?: string;
  date?: string;
  nonce?: string;
  /** Query sent instead of the signed one. */
  sentQuery?: Record<string, string>;
  authorization?: string;
  /** Extra headers sent but not signed. */
  unsigned?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * ACS3-HMAC-SHA256 written from Aliyun's "V3 版本请求体&签名机制" document, independently of the simulator:
 * RPC parameters in the query, an empty body.
 */
async function sendSms(f: Fixture, params: Record<string, string>, o: Overrides = {}) {
  const query = { SignName: 'wxauth', TemplateCode: 'SMS_1', ...params };
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${encode(k)}=${encode(query[k as keyof typeof query] ?? '')}`)
    .join('&');
  const headers: Record<string, string> = {
    host: f.sim.host,
    'x-acs-action': 'SendSms',
    'x-acs-version': '2017-05-25',
    'x-acs-date': o.date ?? new Date(f.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-signature-nonce': o.nonce ?? randomUUID(),
    'x-acs-content-sha256': sha256(''),
  };
  const names = Object.keys(headers).sort();
  const canonical = [
    'POST',
    '/',
    canonicalQuery,
    names.map((n) => `${n}:${headers[n]}\n`).join(''),
    names.join(';'),
    sha256(''),
  ].join('\n');
  const signature = createHmac('sha256', o.accessKeySecret ?? ACCOUNT.accessKeySecret)
    .update(`ACS3-HMAC-SHA256\n${sha256(canonical)}`)
    .digest('hex');
  const sentQuery = o.sentQuery ? new URLSearchParams(o.sentQuery).toString() : canonicalQuery;
  const response = await fetch(`${f.sim.url}/?${sentQuery}`, {
    method: 'POST',
    headers: {
      ...headers,
      ...o.unsigned,
      authorization:
        o.authorization ??
        `ACS3-HMAC-SHA256 Credential=${o.accessKeyId ?? ACCOUNT.accessKeyId},SignedHeaders=${names.join(';')},Signature=${signature}`,
    },
    signal: o.signal,
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

const send = (f: Fixture, phone = PHONE, code = '123456', o: Overrides = {}) =>
  sendSms(f, { PhoneNumbers: phone, TemplateParam: JSON.stringify({ code }) }, o);

describe('Aliyun SMS simulator: Dysmsapi SendSms 2017-05-25 with ACS3-HMAC-SHA256', () => {
  it("accepts a correctly signed request and answers Aliyun's success shape", async () => {
    const f = await start();
    const response = await send(f);
    expect(response).toEqual({
      status: 200,
      body: {
        Message: 'OK',
        RequestId: expect.stringMatching(
          /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/,
        ),
        Code: 'OK',
        BizId: expect.stringMatching(/^\d{18}\^0$/),
      },
    });
    expect(f.sim.aliyun?.messages()).toMatchObject([
      { phone: PHONE, code: '123456', template: 'SMS_1', messageId: response.body.BizId, at: BASE },
    ]);
  });

  it.each<[string, Overrides, number, string]>([
    [
      'a query changed after signing',
      { sentQuery: { PhoneNumbers: '13900000000' } },
      400,
      'SignatureDoesNotMatch',
    ],
    ['the wrong AccessKey secret', { accessKeySecret: 'guess' }, 400, 'SignatureDoesNotMatch'],
    ['an unsigned x-acs-* header', { unsigned: { 'x-acs-extra': '1' } }, 400, 'SignatureDoesNotMatch'],
    ['an unknown AccessKey ID', { accessKeyId: 'LTAIother' }, 404, 'InvalidAccessKeyId.NotFound'],
    ['a date 16 minutes old', { date: '2026-01-15T07:44:00Z' }, 400, 'InvalidTimeStamp.Expired'],
    ['a malformed Authorization', { authorization: 'HMAC-SHA1 x' }, 400, 'IncompleteSignature'],
  ])('refuses %s with the POP error body, delivering nothing', async (_, overrides, status, code) => {
    const f = await start();
    const response = await send(f, PHONE, '123456', overrides);
    expect(response.status).toBe(status);
    expect(response.body).toEqual({
      RequestId: expect.any(String),
      Message: expect.any(String),
      Recommend: expect.stringContaining(`q=${code}`),
      HostId: 'dysmsapi.aliyuncs.com',
      Code: code,
    });
    expect(f.sim.aliyun?.messages()).toEqual([]);
    expect(f.sim.aliyun?.requests()).toMatchObject([{ authenticated: false, status }]);
  });

  it('refuses a replayed signature nonce', async () => {
    const f = await start();
    expect((await send(f, PHONE, '1', { nonce: 'n-1' })).body.Code).toBe('OK');
    expect(await send(f, '+8613800138001', '1', { nonce: 'n-1' })).toMatchObject({
      status: 400,
      body: { Code: 'SignatureNonceUsed' },
    });
  });

  it('limits each number to 1 a minute, 5 an hour, 10 a day with Aliyun texts', async () => {
    const f = await start({ limits: { perHour: 2 } });
    expect((await send(f)).body.Code).toBe('OK');
    expect((await send(f)).body).toMatchObject({
      Code: 'isv.BUSINESS_LIMIT_CONTROL',
      Message: '触发分钟级流控Permits:1',
    });
    f.advance(60_000);
    expect((await send(f)).body.Code).toBe('OK');
    f.advance(60_000);
    expect((await send(f)).body).toMatchObject({
      Code: 'isv.BUSINESS_LIMIT_CONTROL',
      Message: '触发小时级流控Permits:2',
    });
    expect(f.sim.aliyun?.messages(PHONE)).toHaveLength(2);
  });

  it('accepts mainland forms with or without prefixes and international numbers without "+"', async () => {
    const f = await start({ limits: { perMinute: 10 } });
    for (const form of ['13800138000', '+8613800138000', '008613800138000', '8613800138000']) {
      expect((await send(f, form)).body.Code).toBe('OK');
    }
    expect((await send(f, '85261234567')).body.Code).toBe('OK');
    expect(f.sim.aliyun?.messages().map((m) => m.phone)).toEqual([...Array(4).fill(PHONE), '+85261234567']);
    expect((await send(f, '12345')).body.Code).toBe('isv.MOBILE_NUMBER_ILLEGAL');
  });

  it('checks parameters: missing ones (400), unknown template, non-string TemplateParam', async () => {
    const f = await start();
    expect(await sendSms(f, { TemplateParam: '{"code":"1"}' })).toMatchObject({
      status: 400,
      body: { Code: 'MissingPhoneNumbers' },
    });
    expect((await sendSms(f, { PhoneNumbers: PHONE, TemplateCode: 'SMS_2' })).body.Code).toBe(
      'isv.SMS_TEMPLATE_ILLEGAL',
    );
    expect((await sendSms(f, { PhoneNumbers: PHONE, TemplateParam: '{"code":123456}' })).body.Code).toBe(
      'isv.INVALID_JSON_PARAM',
    );
    expect(f.sim.aliyun?.messages()).toEqual([]);
  });

  it('faults: isv codes as 200 bodies, 503 as ServiceUnavailable, delays, then normal service', async () => {
    const f = await start({ limits: { perMinute: 100 } });
    f.sim.aliyun?.injectFault({ errorCode: 'isv.AMOUNT_NOT_ENOUGH' });
    f.sim.aliyun?.injectFault({ status: 503 });
    f.sim.aliyun?.injectFault({ delayMs: 150 });
    expect(await send(f)).toMatchObject({
      status: 200,
      body: { Code: 'isv.AMOUNT_NOT_ENOUGH', Message: '账户余额不足' },
    });
    expect(await send(f)).toMatchObject({ status: 503, body: { Code: 'ServiceUnavailable' } });
    const started = performance.now();
    expect((await send(f)).body.Code).toBe('OK');
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(f.sim.aliyun?.requests().map((r) => [r.code, r.fault ?? null])).toEqual([
      ['isv.AMOUNT_NOT_ENOUGH', 'errorCode'],
      ['HTTP 503', 'status'],
      ['OK', 'delay'],
    ]);
  });

  it('acceptThenStall: delivers the message, never answers', async () => {
    const f = await start();
    f.sim.aliyun?.injectFault({ acceptThenStall: true });
    await expect(send(f, PHONE, '424242', { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(f.sim.aliyun?.lastCode(PHONE)).toBe('424242');
    expect(f.sim.aliyun?.requests()).toMatchObject([{ fault: 'stall', status: null }]);
  });

  it('rejects bad fault definitions', async () => {
    const f = await start();
    expect(() => f.sim.aliyun?.injectFault({})).toThrow(/at least one/);
    expect(() => f.sim.aliyun?.injectFault({ status: 200 })).toThrow(/status/);
  });
});
