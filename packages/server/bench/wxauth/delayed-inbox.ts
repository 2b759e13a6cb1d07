import { createInboxProvider } from '../../src/adapters/sms/inbox-provider.ts';
import type { SmsProvider } from '../../src/adapters/sms/sms-provider.types.ts';
import type { Clock } from '../../src/clock.ts';

export interface BenchSmsProvider extends SmsProvider {
  /** The newest code sent to `phone` (E.164), for the load generator's verify phase. */
  latestCode(phone: string): string | null;
}

/**
 * The dev inbox, made to take as long as a real vendor call (§10.2 S4: 100 ms), and with an O(1)
 * lookup by phone: the inbox's own lookup walks its ring, and S4 reads back thousands of codes.
 * The lookup map is bounded like the inbox is.
 */
export function createBenchSmsProvider(options: {
  clock: Clock;
  delayMs: number;
  keep?: number;
}): BenchSmsProvider {
  const inbox = createInboxProvider({ clock: options.clock });
  const keep = options.keep ?? 500_000;
  const codes = new Map<string, string>();
  return {
    name: 'inbox',
    async send(message) {
      if (options.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      codes.delete(message.phone);
      codes.set(message.phone, message.code);
      if (codes.size > keep) codes.delete(codes.keys().next().value!);
      return inbox.send(message);
    },
    latestCode: (phone) => codes.get(phone) ?? null,
  };
}
