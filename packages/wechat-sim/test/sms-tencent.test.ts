import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type SmsSimulator, startSmsSimulator, type TencentSmsSimOptions } from '../src/index.ts';

const ACCOUNT = { secretId: 'AKIDtestTencent', secretKey: 'tencent-test-key', sdkAppId: '1400000001' };
/** A frozen sim clock; requests are signed with it, so time moves only through advanceClock. */
const BASE = Date.UTC(2026, 0, 15, 8, 0, 0);
const PHONE = '+8613800138000';

interface Fixture {
  sim: SmsSimulator;
  /** The sim clock, which requests are signed with. */
  now(): number;
  advance(ms: number): void;
}

async function start(options: Partial<TencentSmsSimOptions> = {}): Promise<Fixture> {
  const sim = await startSmsSimulator({
    tencent: { ...ACCOUNT, signName: 'wxauth', ...options },
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

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();

interface Overrides {
  secretId?: string;
  secretKey?: string;
  timestampSec?: number;
  date?: string;
  /** Replace the body after signing. */
  sentBody?: string;
  authorization?: string;
  signedHeaders?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * TC3-HMAC-SHA256 written from Tencent's "签名方法 v3" document, independently of the simulator: the host
 * is signed with its port here (the Host header value), unlike the Node SDK, which drops it.
 */
async function sendSms({ sim, now }: Fixture, params: Record<string, unknown>, o: Overrides = {}) {
  const body = JSON.stringify({
    SmsSdkAppId: ACCOUNT.sdkAppId,
    TemplateId: '1001',
    SignName: 'wxauth',
    ...params,
  });
  const timestamp = o.timestampSec ?? Math.floor(now() / 1000);
  const date = o.date ?? new Date(timestamp * 1000).toISOString().slice(0, 10);
  const contentType = 'application/json; charset=utf-8';
  const signedHeaders = o.signedHeaders ?? 'content-type;host';
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${name === 'host' ? sim.host : contentType}\n`)
    .join('');
  const canonical = ['POST', '/', '', canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/sms/tc3_request`;
  const toSign = ['TC3-HMAC-SHA256', String(timestamp), scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(`TC3${o.secretKey ?? ACCOUNT.secretKey}`, date), 'sms'), 'tc3_request');
  const signature = hmac(key, toSign).toString('hex');
  const response = await fetch(`${sim.url}/`, {
    method: 'POST',
    headers: {
      'Content-Type': contentType,
      Authorization:
        o.authorization ??
        `TC3-HMAC-SHA256 Credential=${o.secretId ?? ACCOUNT.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
      'X-TC-Action': 'SendSms',
      'X-TC-Version': '2021-01-11',
      'X-TC-Timestamp': String(timestamp),
      'X-TC-Region': 'ap-guangzhou',
      ...o.headers,
    },
    body: o.sentBody ?? body,
    signal: o.signal,
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: () => JSON.parse(text) as { Response: Record<string, unknown> },
  };
}

const send = (f: Fixture, phone = PHONE, code = '123456', o: Overrides = {}) =>
  sendSms(f, { PhoneNumberSet: [phone], TemplateParamSet: [code, '5'], SessionContext: 'ctx' }, o);
const errorCode = (r: { json: () => { Response: Record<string, unknown> } }) =>
  (r.json().Response.Error as { Code: string } | undefined)?.Code;
const statusCode = (r: { json: () => { Response: Record<string, unknown> } }) =>
  (r.json().Response.SendStatusSet as { Code: string }[] | undefined)?.[0]?.Code;

describe('Tencent SMS simulator: SendSms 2021-01-11 with TC3-HMAC-SHA256', () => {
  it("accepts a correctly signed request and answers Tencent's success shape", async () => {
    const f = await start();
    const { sim } = f;
    const response = await send(f);
    expect(response.status).toBe(200);
    const { Response } = response.json();
    expect(Response).toEqual({
      SendStatusSet: [
        {
          SerialNo: expect.stringMatching(/^\d{4}:\d{28}$/),
          PhoneNumber: PHONE,
          Fee: 1,
          SessionContext: 'ctx',
          Code: 'Ok',
          Message: 'send success',
          IsoCode: 'CN',
        },
      ],
      RequestId: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
    });
    expect(sim.tencent?.messages()).toMatchObject([
      { phone: PHONE, code: '123456', params: ['123456', '5'], at: BASE },
    ]);
    expect(sim.tencent?.requests()).toMatchObject([
      { action: 'SendSms', authenticated: true, code: 'Ok', status: 200 },
    ]);
  });

  it.each<[string, Overrides, string]>([
    [
      'a body changed after signing',
      { sentBody: '{"PhoneNumberSet":["+8613900000000"]}' },
      'AuthFailure.SignatureFailure',
    ],
    ['the wrong SecretKey', { secretKey: 'guess' }, 'AuthFailure.SignatureFailure'],
    ['an unknown SecretId', { secretId: 'AKIDother' }, 'AuthFailure.SecretIdNotFound'],
    ['a timestamp 301 s old', { timestampSec: BASE / 1000 - 301 }, 'AuthFailure.SignatureExpire'],
    ['a scope date other than the timestamp day', { date: '2026-01-14' }, 'AuthFailure.SignatureFailure'],
    ['host left out of SignedHeaders', { signedHeaders: 'content-type' }, 'AuthFailure.SignatureFailure'],
    [
      'a malformed Authorization',
      { authorization: 'TC3-HMAC-SHA256 Signature=00' },
      'AuthFailure.InvalidAuthorization',
    ],
  ])('refuses %s (%s) and delivers nothing', async (_, overrides, code) => {
    const f = await start();
    const { sim } = f;
    const response = await send(f, PHONE, '123456', overrides);
    expect(response.status).toBe(200);
    expect(response.json().Response).toMatchObject({ Error: { Code: code, Message: expect.any(String) } });
    expect(sim.tencent?.messages()).toEqual([]);
    expect(sim.tencent?.requests()).toMatchObject([{ authenticated: false, code }]);
  });

  it('limits each number: 1 per 30 s, then the hourly and daily caps', async () => {
    const f = await start({ limits: { perHour: 2, perDay: 3 } });
    const { sim } = f;
    expect(statusCode(await send(f))).toBe('Ok');
    expect(statusCode(await send(f))).toBe('LimitExceeded.PhoneNumberThirtySecondLimit');
    expect(statusCode(await send(f, '+8613800138001'))).toBe('Ok');
    f.advance(30_000);
    expect(statusCode(await send(f))).toBe('Ok');
    f.advance(30_000);
    expect(statusCode(await send(f))).toBe('LimitExceeded.PhoneNumberOneHourLimit');
    f.advance(3_600_000);
    expect(statusCode(await send(f))).toBe('Ok');
    f.advance(3_600_000);
    expect(statusCode(await send(f))).toBe('LimitExceeded.PhoneNumberDailyLimit');
    expect(sim.tencent?.messages(PHONE)).toHaveLength(3);
  });

  it('accepts the mainland forms Tencent documents and rejects malformed numbers per number', async () => {
    const f = await start({ limits: { perThirtySeconds: 10 } });
    const { sim } = f;
    for (const form of ['+8613800138000', '008613800138000', '8613800138000', '13800138000']) {
      expect(statusCode(await send(f, form))).toBe('Ok');
    }
    expect(sim.tencent?.messages().map((m) => m.phone)).toEqual(Array(4).fill(PHONE));
    const bad = await send(f, '+8612345');
    expect(statusCode(bad)).toBe('InvalidParameterValue.IncorrectPhoneNumber');
    expect(bad.json().Response.Error).toBeUndefined();
  });

  it('checks the account: SdkAppId, approved sign name, required parameters', async () => {
    const f = await start();
    expect(errorCode(await sendSms(f, { PhoneNumberSet: [PHONE], SmsSdkAppId: '1400999999' }))).toBe(
      'UnauthorizedOperation.SmsSdkAppIdVerifyFail',
    );
    expect(errorCode(await sendSms(f, { PhoneNumberSet: [PHONE], SignName: 'other' }))).toBe(
      'FailedOperation.SignatureIncorrectOrUnapproved',
    );
    expect(errorCode(await sendSms(f, {}))).toBe('MissingParameter');
    expect(errorCode(await send(f, PHONE, '1', { headers: { 'X-TC-Action': 'SendSmsX' } }))).toBe(
      'InvalidAction',
    );
    expect(f.sim.tencent?.messages()).toEqual([]);
  });

  it('faults: per-number codes in SendStatusSet, others in Error, bare 5xx as a gateway page, times', async () => {
    const f = await start({ limits: { perThirtySeconds: 100 } });
    const { sim } = f;
    sim.tencent?.injectFault({ errorCode: 'LimitExceeded.PhoneNumberDailyLimit' });
    sim.tencent?.injectFault({ errorCode: 'FailedOperation.InsufficientBalanceInSmsPackage' });
    sim.tencent?.injectFault({ status: 502, times: 2 });
    expect(statusCode(await send(f))).toBe('LimitExceeded.PhoneNumberDailyLimit');
    expect(errorCode(await send(f))).toBe('FailedOperation.InsufficientBalanceInSmsPackage');
    for (let i = 0; i < 2; i++) {
      const gateway = await send(f);
      expect(gateway.status).toBe(502);
      expect(gateway.text).toContain('502 Bad Gateway');
    }
    expect(statusCode(await send(f))).toBe('Ok');
    expect(sim.tencent?.messages()).toHaveLength(1);
    expect(sim.tencent?.requests().map((r) => r.fault ?? null)).toEqual([
      'errorCode',
      'errorCode',
      'status',
      'status',
      null,
    ]);
  });

  it('acceptThenStall: reads the request and delivers the message, then never answers', async () => {
    const f = await start();
    const { sim } = f;
    sim.tencent?.injectFault({ acceptThenStall: true });
    await expect(send(f, PHONE, '777777', { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(sim.tencent?.lastCode(PHONE)).toBe('777777');
    expect(sim.tencent?.requests()).toMatchObject([
      { authenticated: true, fault: 'stall', status: null, code: null },
    ]);
  });

  it('a request for neither vendor gets 404', async () => {
    const f = await start();
    const { sim } = f;
    const response = await fetch(`${sim.url}/`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect(sim.tencent?.requests()).toEqual([]);
  });
});
