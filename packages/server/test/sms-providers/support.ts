import { createServer } from 'node:net';
import { type SmsSimulator, startSmsSimulator } from '@wxauth/wechat-sim';
import { expect } from 'vitest';
import type { AliyunSmsOptions } from '../../src/adapters/sms/aliyun-provider.ts';
import { type SmsMessage, SmsProviderError } from '../../src/adapters/sms/sms-provider.types.ts';
import type { TencentSmsOptions } from '../../src/adapters/sms/tencent-provider.ts';

export const TENCENT = {
  secretId: 'AKIDsimTencent0000000000000000000000',
  secretKey: 'tencent-secret-key-7f3a9c0e1b2d',
  sdkAppId: '1400123456',
  signName: 'wxauth',
  templateId: '1234567',
};

export const ALIYUN = {
  accessKeyId: 'LTAI5tSimAliyun000000000',
  accessKeySecret: 'aliyun-secret-0c8e2f6a4b1d9e7',
  signName: 'wxauth',
  templateCode: 'SMS_465000001',
};

/** Both vendors on one simulator, checking sign names and templates like an approved account would. */
export function startVendors(): Promise<SmsSimulator> {
  return startSmsSimulator({ tencent: TENCENT, aliyun: ALIYUN, seed: 'sms-providers' });
}

export function tencentOptions(
  sim: SmsSimulator,
  overrides: Partial<TencentSmsOptions> = {},
): TencentSmsOptions {
  return { ...TENCENT, endpoint: sim.host, timeoutMs: 2000, ...overrides };
}

export function aliyunOptions(
  sim: SmsSimulator,
  overrides: Partial<AliyunSmsOptions> = {},
): AliyunSmsOptions {
  return { ...ALIYUN, endpoint: sim.host, timeoutMs: 2000, ...overrides };
}

let counter = 0;
/** A fresh mainland number and a fresh code per call, so per-phone vendor limits never interfere. */
export function message(overrides: Partial<SmsMessage> = {}): SmsMessage {
  counter++;
  return {
    phone: `+86139${String(counter).padStart(8, '0')}`,
    code: String(100_000 + ((counter * 7919) % 900_000)),
    purpose: 'login',
    ttlMinutes: 5,
    ...overrides,
  };
}

const SECRETS = [TENCENT.secretKey, TENCENT.secretId, ALIYUN.accessKeySecret, ALIYUN.accessKeyId];

/**
 * Awaits the rejection, checks it is the expected SmsProviderError, and that nothing secret rides along:
 * not the code, not a key, in the message, the stack, the JSON form, or a cause (where a logger would
 * find it).
 */
export async function expectSmsError(
  sending: Promise<unknown>,
  expected: { outcome: 'failed' | 'unknown'; reason: string; vendorCode?: string | null },
  sent: SmsMessage,
): Promise<SmsProviderError> {
  const error = await sending.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SmsProviderError);
  const smsError = error as SmsProviderError;
  expect({ outcome: smsError.outcome, reason: smsError.reason }).toEqual({
    outcome: expected.outcome,
    reason: expected.reason,
  });
  if (expected.vendorCode !== undefined) expect(smsError.vendorCode).toBe(expected.vendorCode);
  expect(smsError.cause).toBeUndefined();
  const visible = `${smsError.message}\n${smsError.stack ?? ''}\n${JSON.stringify(smsError)}\n${String(smsError)}`;
  for (const secret of [sent.code, ...SECRETS]) expect(visible).not.toContain(secret);
  return smsError;
}

/** A port nothing listens on: bind, read it, close. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 1;
}
