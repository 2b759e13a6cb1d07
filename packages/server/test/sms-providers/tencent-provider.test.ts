import type { SmsSimulator } from '@wxauth/wechat-sim';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTencentSmsProvider } from '../../src/adapters/sms/tencent-provider.ts';
import { closedPort, expectSmsError, message, startVendors, TENCENT, tencentOptions } from './support.ts';

let sim: SmsSimulator;
beforeAll(async () => {
  sim = await startVendors();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const tencent = () => sim.tencent!;

describe('Tencent provider (tencentcloud-sdk-nodejs-sms against the simulator over HTTP)', () => {
  it('sends one correctly signed SendSms with the E.164 number, the code and the TTL', async () => {
    const provider = createTencentSmsProvider(tencentOptions(sim));
    const sent = message();
    const result = await provider.send(sent);

    const [request, ...others] = tencent().requests();
    expect(others).toEqual([]);
    expect(request).toMatchObject({
      action: 'SendSms',
      authenticated: true,
      phones: [sent.phone],
      code: 'Ok',
    });
    const [delivered] = tencent().messages(sent.phone);
    expect(delivered).toMatchObject({
      phone: sent.phone,
      code: sent.code,
      params: [sent.code, '5'],
      signName: TENCENT.signName,
      template: TENCENT.templateId,
    });
    expect(result.providerMessageId).toBe(delivered?.messageId);
    expect(result.providerMessageId).not.toContain(sent.code);
  });

  it('a wrong SecretKey fails the TC3 signature check: failed/auth, nothing delivered', async () => {
    const provider = createTencentSmsProvider(tencentOptions(sim, { secretKey: 'not-the-secret' }));
    const sent = message();
    await expectSmsError(
      provider.send(sent),
      { outcome: 'failed', reason: 'auth', vendorCode: 'AuthFailure.SignatureFailure' },
      sent,
    );
    expect(tencent().requests()).toMatchObject([
      { authenticated: false, code: 'AuthFailure.SignatureFailure' },
    ]);
    expect(tencent().messages()).toEqual([]);
  });

  it('an unknown SecretId is AuthFailure.SecretIdNotFound: failed/auth', async () => {
    const provider = createTencentSmsProvider(tencentOptions(sim, { secretId: 'AKIDunknown' }));
    const sent = message();
    await expectSmsError(
      provider.send(sent),
      { outcome: 'failed', reason: 'auth', vendorCode: 'AuthFailure.SecretIdNotFound' },
      sent,
    );
  });

  it("maps the vendor's own per-number 30-second and hourly limits", async () => {
    const provider = createTencentSmsProvider(tencentOptions(sim));
    const first = message();
    await provider.send(first);
    const again = { ...first, code: '654321' };
    await expectSmsError(
      provider.send(again),
      {
        outcome: 'failed',
        reason: 'vendor_rate_limited',
        vendorCode: 'LimitExceeded.PhoneNumberThirtySecondLimit',
      },
      again,
    );
    for (let i = 0; i < 4; i++) {
      sim.advanceClock(30_000);
      await provider.send(first);
    }
    sim.advanceClock(30_000);
    await expectSmsError(
      provider.send(first),
      {
        outcome: 'failed',
        reason: 'vendor_rate_limited',
        vendorCode: 'LimitExceeded.PhoneNumberOneHourLimit',
      },
      first,
    );
    expect(tencent().messages(first.phone)).toHaveLength(5);
  });

  it('a number Tencent calls malformed is failed/invalid_phone', async () => {
    const provider = createTencentSmsProvider(tencentOptions(sim));
    const sent = message({ phone: '+8612000000000' });
    await expectSmsError(
      provider.send(sent),
      {
        outcome: 'failed',
        reason: 'invalid_phone',
        vendorCode: 'InvalidParameterValue.IncorrectPhoneNumber',
      },
      sent,
    );
  });

  it.each([
    ['LimitExceeded.PhoneNumberDailyLimit', 'vendor_rate_limited'],
    ['FailedOperation.InsufficientBalanceInSmsPackage', 'vendor_balance'],
    ['FailedOperation.TemplateIncorrectOrUnapproved', 'vendor_config'],
    ['FailedOperation.PhoneNumberInBlacklist', 'phone_blocked'],
    ['UnauthorizedOperation.SmsSdkAppIdVerifyFail', 'auth'],
    ['InternalError.Timeout', 'vendor_error'],
  ])('vendor code %s → failed/%s', async (errorCode, reason) => {
    tencent().injectFault({ errorCode });
    const sent = message();
    await expectSmsError(
      createTencentSmsProvider(tencentOptions(sim)).send(sent),
      { outcome: 'failed', reason, vendorCode: errorCode },
      sent,
    );
    expect(tencent().requests()).toHaveLength(1);
  });

  it('5xx: 502 may follow acceptance (unknown), 503 says not processed (failed); never retried', async () => {
    const provider = createTencentSmsProvider(tencentOptions(sim));
    tencent().injectFault({ status: 502 });
    const first = message();
    await expectSmsError(
      provider.send(first),
      { outcome: 'unknown', reason: 'network', vendorCode: 'HTTP 502' },
      first,
    );
    tencent().injectFault({ status: 503 });
    const second = message();
    await expectSmsError(
      provider.send(second),
      { outcome: 'failed', reason: 'vendor_unavailable', vendorCode: 'HTTP 503' },
      second,
    );
    expect(
      tencent()
        .requests()
        .map((r) => r.status),
    ).toEqual([502, 503]);
  });

  it('acceptThenStall: unknown/timeout within timeoutMs, exactly one request, which the vendor received', async () => {
    const provider = createTencentSmsProvider(tencentOptions(sim, { timeoutMs: 300 }));
    tencent().injectFault({ acceptThenStall: true, times: 0 });
    const sent = message();
    const started = performance.now();
    await expectSmsError(
      provider.send(sent),
      { outcome: 'unknown', reason: 'timeout', vendorCode: null },
      sent,
    );
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
    // Give a (wrong) retry time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(tencent().requests()).toMatchObject([{ authenticated: true, fault: 'stall', status: null }]);
    expect(
      tencent()
        .messages(sent.phone)
        .map((m) => m.code),
    ).toEqual([sent.code]);
  });

  it('a refused connection is failed/unreachable: nothing can have been sent', async () => {
    const port = await closedPort();
    const provider = createTencentSmsProvider(tencentOptions(sim, { endpoint: `127.0.0.1:${port}` }));
    const sent = message();
    await expectSmsError(provider.send(sent), { outcome: 'failed', reason: 'unreachable' }, sent);
  });

  it('refuses a non-E.164 number before calling Tencent', async () => {
    const sent = message({ phone: '13800138000' });
    await expectSmsError(
      createTencentSmsProvider(tencentOptions(sim)).send(sent),
      { outcome: 'failed', reason: 'invalid_phone' },
      sent,
    );
    expect(tencent().requests()).toEqual([]);
  });

  it('allows plain http only for loopback endpoints', () => {
    expect(() =>
      createTencentSmsProvider(tencentOptions(sim, { endpoint: 'http://sms.example.com' })),
    ).toThrow(/loopback/);
    expect(() =>
      createTencentSmsProvider(tencentOptions(sim, { endpoint: 'sms.example.com:8443' })),
    ).not.toThrow();
  });
});
