import { WxAuthError } from './errors.ts';
import type { PhoneNumberEvent } from './types.ts';

/** WeChat's errno when the app's getPhoneNumber quota is used up (wechat-api.md §7.1, §13.5). */
const QUOTA_ERRNO = 1400001;

/**
 * The getPhoneNumber code from the button event, or a clear error: the event arrives without a code
 * when the user declines, when the quota is used up, or on base libraries older than 2.21.2.
 */
export function phoneCodeOf(event: PhoneNumberEvent): string {
  const detail = event?.detail ?? {};
  if (typeof detail.code === 'string' && detail.code !== '') return detail.code;
  const errMsg = typeof detail.errMsg === 'string' ? detail.errMsg : 'no code';
  const reason =
    detail.errno === QUOTA_ERRNO
      ? 'the mini program has used up its getPhoneNumber quota'
      : /deny|cancel/i.test(errMsg)
        ? 'the user declined to share the phone number'
        : 'the event carries no code (base library 2.21.2 or later is needed)';
  return fail(reason, errMsg, detail.errno);
}

function fail(reason: string, errMsg: string, errno: number | undefined): never {
  throw new WxAuthError('phone_number_denied', `No phone number: ${reason} (${errMsg}).`, {
    ...(errno !== undefined ? { errno } : {}),
  });
}

/** Tells a getPhoneNumber event from an SMS `{ phone, code }` pair. */
export function isPhoneNumberEvent(
  value: PhoneNumberEvent | { phone: string; code: string },
): value is PhoneNumberEvent {
  return typeof value === 'object' && value !== null && 'detail' in value;
}
