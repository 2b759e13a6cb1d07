import type { SmsSimulator } from '@wxauth/wechat-sim';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aliyunPhoneNumber, createAliyunSmsProvider } from '../../src/adapters/sms/aliyun-provider.ts';
import { ALIYUN, aliyunOptions, closedPort, expectSmsError, message, startVendors } from './support.ts';

let sim: SmsSimulator;
beforeAll(async () => {
  sim = await startVendors();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const aliyun = () => sim.aliyun!;

describe('Aliyun provider (@alicloud/dysmsapi20170525 against the simulator over HTTP)', () => {
  it('sends one ACS3-signed SendSms: national number for +86, TemplateParam {"code"}', async () => {
    const provider = createAliyunSmsProvider(aliyunOptions(sim));
    const sent = message();
    const result = await provider.send(sent);

    const [request, ...others] = aliyun().requests();
    expect(others).toEqual([]);
    expect(request).toMatchObject({
      action: 'SendSms',
      authenticated: true,
      phones: [sent.phone.slice(3)],
      code: 'OK',
    });
    const [delivered] = aliyun().messages(sent.phone);
    expect(delivered).toMatchObject({
      code: sent.code,
      params: [sent.code],
      signName: ALIYUN.signName,
      template: ALIYUN.templateCode,
    });
    expect(result.providerMessageId).toBe(delivered?.messageId);
    expect(result.providerMessageId).toMatch(/^\d+\^0$/);
  });

  it('international numbers go out as country code + number without "+"', async () => {
    expect(aliyunPhoneNumber('+8613800138000')).toBe('13800138000');
    expect(aliyunPhoneNumber('+85261234567')).toBe('85261234567');
    const sent = message({ phone: '+85261234567' });
    await createAliyunSmsProvider(aliyunOptions(sim)).send(sent);
    expect(aliyun().requests()[0]?.phones).toEqual(['85261234567']);
    expect(aliyun().messages('+85261234567')).toHaveLength(1);
  });

  it('a wrong AccessKey secret fails the signature check (400 SignatureDoesNotMatch): failed/auth', async () => {
    const provider = createAliyunSmsProvider(aliyunOptions(sim, { accessKeySecret: 'not-the-secret' }));
    const sent = message();
    await expectSmsError(
      provider.send(sent),
      { outcome: 'failed', reason: 'auth', vendorCode: 'SignatureDoesNotMatch' },
      sent,
    );
    expect(aliyun().requests()).toMatchObject([{ authenticated: false, status: 400 }]);
    expect(aliyun().messages()).toEqual([]);
  });

  it('an unknown AccessKey ID is 404 InvalidAccessKeyId.NotFound: failed/auth', async () => {
    const provider = createAliyunSmsProvider(aliyunOptions(sim, { accessKeyId: 'LTAIunknown' }));
    const sent = message();
    await expectSmsError(
      provider.send(sent),
      { outcome: 'failed', reason: 'auth', vendorCode: 'InvalidAccessKeyId.NotFound' },
      sent,
    );
  });

  it("maps the vendor's one-a-minute limit (isv.BUSINESS_LIMIT_CONTROL)", async () => {
    const provider = createAliyunSmsProvider(aliyunOptions(sim));
    const first = message();
    await provider.send(first);
    await expectSmsError(
      provider.send(first),
      { outcome: 'failed', reason: 'vendor_rate_limited', vendorCode: 'isv.BUSINESS_LIMIT_CONTROL' },
      first,
    );
    sim.advanceClock(60_000);
    await provider.send(first);
    expect(aliyun().messages(first.phone)).toHaveLength(2);
  });

  it('an unapproved template is isv.SMS_TEMPLATE_ILLEGAL: failed/vendor_config', async () => {
    const provider = createAliyunSmsProvider(aliyunOptions(sim, { templateCode: 'SMS_000' }));
    const sent = message();
    await expectSmsError(
      provider.send(sent),
      { outcome: 'failed', reason: 'vendor_config', vendorCode: 'isv.SMS_TEMPLATE_ILLEGAL' },
      sent,
    );
  });

  it.each([
    ['isv.MOBILE_NUMBER_ILLEGAL', undefined, 'invalid_phone'],
    ['isv.AMOUNT_NOT_ENOUGH', undefined, 'vendor_balance'],
    ['isv.BUSINESS_LIMIT_CONTROL', undefined, 'vendor_rate_limited'],
    ['Throttling.User', 400, 'vendor_rate_limited'],
    ['isp.SYSTEM_ERROR', undefined, 'vendor_error'],
  ])('vendor code %s (HTTP %s) → failed/%s', async (errorCode, status, reason) => {
    aliyun().injectFault({ errorCode, ...(status ? { status } : {}) });
    const sent = message();
    await expectSmsError(
      createAliyunSmsProvider(aliyunOptions(sim)).send(sent),
      { outcome: 'failed', reason, vendorCode: errorCode },
      sent,
    );
    expect(aliyun().requests()).toHaveLength(1);
  });

  it('5xx: 500 may follow acceptance (unknown), 503 says not processed (failed); never retried', async () => {
    const provider = createAliyunSmsProvider(aliyunOptions(sim));
    aliyun().injectFault({ status: 500 });
    const first = message();
    await expectSmsError(
      provider.send(first),
      { outcome: 'unknown', reason: 'network', vendorCode: 'HTTP 500' },
      first,
    );
    aliyun().injectFault({ status: 503 });
    const second = message();
    await expectSmsError(
      provider.send(second),
      { outcome: 'failed', reason: 'vendor_unavailable', vendorCode: 'HTTP 503' },
      second,
    );
    expect(
      aliyun()
        .requests()
        .map((r) => r.status),
    ).toEqual([500, 503]);
  });

  it('acceptThenStall: unknown/timeout within timeoutMs, exactly one request, which the vendor received', async () => {
    const provider = createAliyunSmsProvider(aliyunOptions(sim, { timeoutMs: 300 }));
    aliyun().injectFault({ acceptThenStall: true, times: 0 });
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
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(aliyun().requests()).toMatchObject([{ authenticated: true, fault: 'stall', status: null }]);
    expect(
      aliyun()
        .messages(sent.phone)
        .map((m) => m.code),
    ).toEqual([sent.code]);
  });

  it('a refused connection is failed/unreachable', async () => {
    const port = await closedPort();
    const sent = message();
    await expectSmsError(
      createAliyunSmsProvider(aliyunOptions(sim, { endpoint: `127.0.0.1:${port}` })).send(sent),
      { outcome: 'failed', reason: 'unreachable' },
      sent,
    );
  });

  it('allows HTTP only for loopback endpoints', () => {
    expect(() =>
      createAliyunSmsProvider(aliyunOptions(sim, { endpoint: 'dysmsapi.aliyuncs.com', protocol: 'HTTP' })),
    ).toThrow(/loopback/);
    expect(() =>
      createAliyunSmsProvider(aliyunOptions(sim, { endpoint: 'dysmsapi.aliyuncs.com' })),
    ).not.toThrow();
  });
});
