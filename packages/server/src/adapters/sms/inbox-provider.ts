import type { Clock } from '../../clock.ts';
import type { SmsProvider } from './sms-provider.types.ts';

export interface InboxMessage {
  phone: string;
  code: string;
  /** Clock ms when it was "sent". */
  sentAt: number;
}

export interface InboxProvider extends SmsProvider {
  readonly name: 'inbox';
  /** Newest first; only messages to `phone` (E.164) when given. */
  messages(phone?: string): InboxMessage[];
}

/**
 * The dev-mode provider: nothing leaves the process, the codes wait in memory for GET /__dev/sms and for
 * tests. It deliberately keeps raw codes, so it must never be used where real users log in (the config
 * table says so). Memory is bounded: only the newest `max` messages are kept.
 */
export function createInboxProvider({ clock, max = 1000 }: { clock: Clock; max?: number }): InboxProvider {
  if (!Number.isInteger(max) || max < 1) throw new RangeError('inbox max must be an integer >= 1');
  // A ring buffer: O(1) per send however full the inbox is.
  const ring: (InboxMessage | undefined)[] = new Array(max);
  let next = 0;
  let count = 0;
  let serial = 0;
  return {
    name: 'inbox',
    async send(message) {
      ring[next] = { phone: message.phone, code: message.code, sentAt: clock.now() };
      next = (next + 1) % max;
      count = Math.min(count + 1, max);
      serial++;
      return { providerMessageId: `inbox-${serial}` };
    },
    messages(phone) {
      const out: InboxMessage[] = [];
      for (let i = 1; i <= count; i++) {
        const entry = ring[(next - i + max) % max];
        if (entry && (phone === undefined || entry.phone === phone)) out.push({ ...entry });
      }
      return out;
    },
  };
}

export function isInboxProvider(provider: SmsProvider): provider is InboxProvider {
  return provider.name === 'inbox' && 'messages' in provider;
}
