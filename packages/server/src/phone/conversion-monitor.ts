import type { Clock } from '../clock.ts';
import type { AuthEvents } from '../observability/auth-events.ts';
import type { Logger } from '../observability/logger.ts';
import type { ConversionGroup, createConversionRepository } from './conversion.repository.ts';

/** R15: over 1 h with at least 50 sends, fewer than 30 % of codes verified is a fraud signal (SMS pumping). */
export const CONVERSION_WINDOW_MS = 3_600_000;
export const CONVERSION_MIN_SENDS = 50;
export const CONVERSION_MIN_RATIO = 0.3;

export function createConversionMonitor(deps: {
  repository: ReturnType<typeof createConversionRepository>;
  clock: Clock;
  logger: Logger;
  events: AuthEvents;
  dialCodes: readonly string[];
}) {
  return {
    /** Checks the last hour; returns the groups under the threshold (and raises an alert for each). */
    async check(): Promise<ConversionGroup[]> {
      const groups = await deps.repository.conversionSince(
        new Date(deps.clock.now() - CONVERSION_WINDOW_MS),
        deps.dialCodes,
      );
      const low = groups.filter(
        (g) => g.sends >= CONVERSION_MIN_SENDS && g.verified / g.sends < CONVERSION_MIN_RATIO,
      );
      for (const g of low) {
        deps.logger.error(
          { alert: 'sms_conversion_low', ...g },
          'SMS conversion below 30 % over the last hour: possible SMS pumping',
        );
        void deps.events.emit({
          type: 'sms.conversion_low',
          outcome: 'critical',
          reason: g.group,
          detail: { sends: g.sends, verified: g.verified },
        });
      }
      return low;
    },
  };
}
