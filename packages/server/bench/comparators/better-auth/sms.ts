import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A simulated SMS provider: a send takes `delayMs` (a timer, no CPU), then the code is "delivered" into
 * an in-memory inbox that /__bench/otp reads. Deliveries still in flight are tracked per number so the
 * inbox can wait for them: with sendOTP not awaited, send-otp answers before the SMS lands.
 */
export interface SmsProvider {
  send(phoneNumber: string, code: string): Promise<void>;
  /** The last code delivered to the number, after any delivery to it still in flight. */
  lastCode(phoneNumber: string): Promise<string | undefined>;
}

/** The inbox forgets the oldest numbers beyond this, so long runs stay bounded in memory. */
const MAX_INBOX = 100_000;

export function createSmsProvider(delayMs: number): SmsProvider {
  const inbox = new Map<string, string>();
  const inFlight = new Map<string, Promise<void>>();
  return {
    send(phoneNumber, code) {
      const delivery = sleep(delayMs).then(() => {
        inbox.delete(phoneNumber);
        inbox.set(phoneNumber, code);
        if (inbox.size > MAX_INBOX) {
          const oldest = inbox.keys().next().value;
          if (oldest !== undefined) inbox.delete(oldest);
        }
        if (inFlight.get(phoneNumber) === delivery) inFlight.delete(phoneNumber);
      });
      inFlight.set(phoneNumber, delivery);
      return delivery;
    },
    async lastCode(phoneNumber) {
      await inFlight.get(phoneNumber);
      return inbox.get(phoneNumber);
    },
  };
}
