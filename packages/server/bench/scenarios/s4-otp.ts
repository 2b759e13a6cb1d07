import { getJson, mapConcurrent, postJson } from '../lib/http.ts';
import { nextClientIp, nextPhone } from '../lib/identities.ts';
import { JSON_HEADERS } from '../lib/load.ts';

/** The two systems' SMS routes, so S4 can drive them alike. */
export interface OtpApi {
  sendPath: string;
  verifyPath: string;
  sendBody(phone: string): string;
  verifyBody(phone: string, code: string): string;
  /** The codes "sent" to these phones (null where none arrived). */
  codes(phones: readonly string[]): Promise<(string | null)[]>;
}

const headers = () => ({ ...JSON_HEADERS, 'x-forwarded-for': nextClientIp() });
export const smsHeaders = headers;

export function wxauthOtpApi(url: string): OtpApi {
  return {
    sendPath: '/v1/auth/sms/send',
    verifyPath: '/v1/auth/sms/login',
    sendBody: (phone) => JSON.stringify({ phone }),
    verifyBody: (phone, code) => JSON.stringify({ phone, code }),
    // 2,000 numbers a call keep the request under the app's 64 KiB body limit.
    async codes(phones) {
      const out: (string | null)[] = [];
      for (let i = 0; i < phones.length; i += 2_000) {
        const { body } = await postJson<{ codes: (string | null)[] }>(`${url}/__bench/otps`, {
          phones: phones.slice(i, i + 2_000),
        });
        out.push(...body.codes);
      }
      return out;
    },
  };
}

export function betterAuthOtpApi(url: string): OtpApi {
  return {
    sendPath: '/api/auth/phone-number/send-otp',
    verifyPath: '/api/auth/phone-number/verify',
    sendBody: (phone) => JSON.stringify({ phoneNumber: phone }),
    verifyBody: (phone, code) => JSON.stringify({ phoneNumber: phone, code }),
    // The comparator's protocol has only the one-phone route.
    codes: (phones) =>
      mapConcurrent(phones, 32, async (phone) => {
        try {
          return (
            await getJson<{ code: string | null }>(`${url}/__bench/otp?phone=${encodeURIComponent(phone)}`)
          ).code;
        } catch {
          return null;
        }
      }),
  };
}

/**
 * Correctness under the bench configuration: a second send to one phone within 60 s is refused
 * (only when `checkPhoneLimit`), and three parallel verifies of one code accept exactly one.
 */
export async function checkOtpRules(url: string, api: OtpApi, checkPhoneLimit: boolean): Promise<string> {
  const phone = nextPhone();
  const send = () =>
    fetch(`${url}${api.sendPath}`, {
      method: 'POST',
      headers: headers(),
      body: api.sendBody(phone),
      signal: AbortSignal.timeout(10_000),
    });
  const first = await send();
  await first.text();
  if (first.status >= 300) return `FAILED (send answered ${first.status})`;
  const parts: string[] = [];
  if (checkPhoneLimit) {
    const second = await send();
    await second.text();
    parts.push(
      second.status === 429 ? 'second send in 60 s → 429' : `FAILED: second send answered ${second.status}`,
    );
  }
  const [code] = await api.codes([phone]);
  if (!code) return 'FAILED (no code arrived)';
  const verifies = await Promise.all(
    [0, 1, 2].map(async () => {
      const res = await fetch(`${url}${api.verifyPath}`, {
        method: 'POST',
        headers: headers(),
        body: api.verifyBody(phone, code),
        signal: AbortSignal.timeout(10_000),
      });
      await res.text();
      return res.status;
    }),
  );
  const accepted = verifies.filter((s) => s >= 200 && s < 300).length;
  parts.push(
    accepted === 1
      ? '3 parallel verifies → 1 accepted'
      : `FAILED: ${accepted} of 3 parallel verifies accepted`,
  );
  return parts.join(', ');
}
