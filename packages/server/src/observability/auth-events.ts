import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from '../storage/database.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** R28: one structured event per security-relevant outcome. Never carries codes, tokens or keys. */
export interface AuthEvent {
  type: string;
  outcome: 'ok' | 'fail' | 'refused' | 'critical';
  userId?: string | null;
  sessionId?: string | null;
  appId?: string | null;
  requestId?: string | null;
  ip?: string | null;
  reason?: string | null;
  detail?: Record<string, unknown>;
}

/** Events that are also kept in the database, because operators must be able to query them later. */
const PERSISTED = new Set([
  'refresh_token.reuse_detected',
  'wechat.access_token_overwritten',
  'wechat.access_token_force_refresh',
  'vault.open_failed',
  'session.logout_all',
  'sms.conversion_low',
]);

export function createAuthEvents(deps: {
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  db?: Kysely<Database>;
}) {
  const log = deps.logger.child({ component: 'auth-events' });
  return {
    /** Logs and counts at once; the returned promise settles when a persisted event is stored. */
    emit(event: AuthEvent): Promise<void> {
      deps.metrics.authEvents.inc({ type: event.type, outcome: event.outcome });
      const line = { event: event.type, ...event, type: undefined };
      if (event.outcome === 'critical') log.error(line, event.type);
      else if (event.outcome === 'ok') log.info(line, event.type);
      else log.warn(line, event.type);
      if (deps.db && PERSISTED.has(event.type)) {
        return deps.db
          .insertInto('auth_events')
          .values({
            at: new Date(deps.clock.now()),
            type: event.type,
            outcome: event.outcome,
            user_id: event.userId ?? null,
            session_id: event.sessionId ?? null,
            app_id: event.appId ?? null,
            request_id: event.requestId ?? null,
            ip: event.ip ?? null,
            reason: event.reason ?? null,
            detail: event.detail ? JSON.stringify(event.detail) : null,
          })
          .execute()
          .then(
            () => undefined,
            (err: unknown) => log.error({ err: String(err) }, 'could not persist an auth event'),
          );
      }
      return Promise.resolve();
    },
  };
}

export type AuthEvents = ReturnType<typeof createAuthEvents>;
