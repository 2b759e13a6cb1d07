import { type Kysely, sql } from 'kysely';
import type { Database } from '../storage/database.ts';

export interface SendHistory {
  /** Send times (ms) for this phone in the last 24 h, any status (R12: attempts count, not deliveries). */
  phone: number[];
  /** Send times (ms) for this client IP in the last 24 h. */
  ip: number[];
  /** Sends since the start of the budget day. */
  today: number;
}

export interface NewCode {
  id: string;
  phone: string;
  purpose: string;
  codeHmac: Buffer;
  createdAt: Date;
  expiresAt: Date;
}

export interface ActiveCode {
  id: string;
  codeHmac: Buffer;
  attempts: number;
  expiresAt: Date;
}

export interface PhoneFailures {
  failures: number;
  windowStartedAt: Date;
  lockedUntil: Date | null;
}

/** A lock key no other feature uses: every SMS send reservation in the cluster takes it. */
const SEND_LOCK = 0x5357_5852; // "WXRS"

export function createSmsRepository(db: Kysely<Database>) {
  return {
    /**
     * R12: checks every cap against the ledger and, when `decide` allows, records the send and the code —
     * under one cluster-wide advisory lock, so 50 parallel clients on 4 processes cannot all pass a
     * "9 < 10" check at once (C12). The transaction is short: the provider is called after commit.
     */
    async reserveSend<T>(input: {
      phone: string;
      ip: string | null;
      now: Date;
      dayStart: Date;
      decide: (history: SendHistory) => T | null;
      ledger: { purpose: string; provider: string };
      code: NewCode;
    }): Promise<{ refused: T } | { ledgerId: string }> {
      return db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${SEND_LOCK})`.execute(trx);
        const since = new Date(input.now.getTime() - 86_400_000);
        const times = (rows: { created_at: Date }[]) => rows.map((r) => r.created_at.getTime());
        const phoneRows = await trx
          .selectFrom('sms_sends')
          .select('created_at')
          .where('phone', '=', input.phone)
          .where('created_at', '>', since)
          .execute();
        const ipRows = input.ip
          ? await trx
              .selectFrom('sms_sends')
              .select('created_at')
              .where('ip', '=', input.ip)
              .where('created_at', '>', since)
              .execute()
          : [];
        const today = await sendsSince(trx, input.dayStart);
        const refused = input.decide({ phone: times(phoneRows), ip: times(ipRows), today });
        if (refused !== null) return { refused };
        // Safe as a plain write: every send of the cluster holds SEND_LOCK until this commits.
        await trx
          .insertInto('sms_daily_sends')
          .values({ day_start: input.dayStart, sends: today + 1 })
          .onConflict((oc) => oc.column('day_start').doUpdateSet({ sends: today + 1 }))
          .execute();
        const ledger = await trx
          .insertInto('sms_sends')
          .values({
            phone: input.phone,
            ip: input.ip,
            purpose: input.ledger.purpose,
            status: 'pending',
            provider: input.ledger.provider,
            provider_message_id: null,
            reason: null,
            created_at: input.now,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        // Only the newest code of a phone and purpose is valid.
        await trx
          .updateTable('sms_codes')
          .set({ invalidated_at: input.now })
          .where('phone', '=', input.phone)
          .where('purpose', '=', input.code.purpose)
          .where('consumed_at', 'is', null)
          .where('invalidated_at', 'is', null)
          .execute();
        await trx
          .insertInto('sms_codes')
          .values({
            id: input.code.id,
            phone: input.code.phone,
            purpose: input.code.purpose,
            code_hmac: input.code.codeHmac,
            attempts: 0,
            created_at: input.code.createdAt,
            expires_at: input.code.expiresAt,
          })
          .execute();
        return { ledgerId: String(ledger.id) };
      });
    },

    async finishSend(
      ledgerId: string,
      outcome: {
        status: 'sent' | 'unknown' | 'failed';
        providerMessageId?: string | null;
        reason?: string | null;
      },
    ): Promise<void> {
      await db
        .updateTable('sms_sends')
        .set({
          status: outcome.status,
          provider_message_id: outcome.providerMessageId ?? null,
          reason: outcome.reason ?? null,
        })
        .where('id', '=', ledgerId)
        .execute();
    },

    async invalidateCode(codeId: string, now: Date): Promise<void> {
      await db.updateTable('sms_codes').set({ invalidated_at: now }).where('id', '=', codeId).execute();
    },

    async purgeExpiredCodes(before: Date): Promise<void> {
      await db.deleteFrom('sms_codes').where('expires_at', '<', before).execute();
    },
  };
}

/**
 * Sends recorded since `dayStart` (R12's daily budget): the day's counter row, or, for a day that has
 * none yet (the first send of the day, or a database from before 0004), the ledger counted once.
 */
async function sendsSince(trx: Kysely<Database>, dayStart: Date): Promise<number> {
  const counter = await trx
    .selectFrom('sms_daily_sends')
    .select('sends')
    .where('day_start', '=', dayStart)
    .executeTakeFirst();
  if (counter) return counter.sends;
  const counted = await trx
    .selectFrom('sms_sends')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('created_at', '>=', dayStart)
    .executeTakeFirstOrThrow();
  return Number(counted.n);
}

/** The newest code of a phone and purpose that is neither consumed nor invalidated (expiry is the caller's). */
export async function findActiveCode(
  db: Kysely<Database>,
  phone: string,
  purpose: string,
  options: { lock: boolean },
): Promise<ActiveCode | null> {
  const query = db
    .selectFrom('sms_codes')
    .select(['id', 'code_hmac', 'attempts', 'expires_at'])
    .where('phone', '=', phone)
    .where('purpose', '=', purpose)
    .where('consumed_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(1);
  const row = await (options.lock ? query.forUpdate() : query).executeTakeFirst();
  return row
    ? { id: row.id, codeHmac: row.code_hmac, attempts: row.attempts, expiresAt: row.expires_at }
    : null;
}

/** The verification half works inside the caller's transaction (it continues with the login). */
export function createSmsVerifyRepository(trx: Kysely<Database>) {
  return {
    /**
     * Serialises every verification of one phone for the rest of the transaction. Without it, one
     * transaction holding the code row and another holding the failures row deadlock (seen on C5).
     */
    async lockPhone(phone: string): Promise<void> {
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`otp:${phone}`}, 0))`.execute(trx);
    },

    async lockFailures(phone: string): Promise<PhoneFailures | null> {
      const row = await trx
        .selectFrom('sms_phone_failures')
        .select(['failures', 'window_started_at', 'locked_until'])
        .where('phone', '=', phone)
        .forUpdate()
        .executeTakeFirst();
      return row
        ? { failures: row.failures, windowStartedAt: row.window_started_at, lockedUntil: row.locked_until }
        : null;
    },

    async saveFailures(phone: string, f: PhoneFailures): Promise<void> {
      await trx
        .insertInto('sms_phone_failures')
        .values({
          phone,
          failures: f.failures,
          window_started_at: f.windowStartedAt,
          locked_until: f.lockedUntil,
        })
        .onConflict((oc) =>
          oc.column('phone').doUpdateSet({
            failures: f.failures,
            window_started_at: f.windowStartedAt,
            locked_until: f.lockedUntil,
          }),
        )
        .execute();
    },

    async clearFailures(phone: string): Promise<void> {
      await trx.deleteFrom('sms_phone_failures').where('phone', '=', phone).execute();
    },

    /**
     * R10: the newest live code of the phone and purpose, row-locked. Concurrent submissions queue here;
     * PostgreSQL re-checks the WHERE after the lock, so a code consumed meanwhile is simply not found.
     */
    lockActiveCode(phone: string, purpose: string): Promise<ActiveCode | null> {
      return findActiveCode(trx, phone, purpose, { lock: true });
    },

    async consumeCode(codeId: string, now: Date): Promise<void> {
      await trx.updateTable('sms_codes').set({ consumed_at: now }).where('id', '=', codeId).execute();
    },

    async countWrongAttempt(codeId: string): Promise<void> {
      await trx
        .updateTable('sms_codes')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('id', '=', codeId)
        .execute();
    },
  };
}

export type SmsRepository = ReturnType<typeof createSmsRepository>;
export type SmsVerifyRepository = ReturnType<typeof createSmsVerifyRepository>;
