import type { Clock } from '../clock.ts';
import { AppError, type ErrorCode, isAppError } from '../errors.ts';
import type { AuthEvents } from '../observability/auth-events.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { RequestMeta } from '../sessions/sessions.service.ts';
import { identitySessionKeyContext } from '../vault/sealed-contexts.ts';
import type { Vault } from '../vault/vault.types.ts';
import type { SessionKeyApi } from './check-row.ts';
import {
  decryptOpenData,
  parseOpenDataInput,
  rawDataSignatureMatches,
  sessionKeyBytes,
  watermarkAppId,
} from './open-data.ts';
import type { SessionKeysRepository } from './session-keys.repository.ts';

export interface DecryptInput {
  encryptedData: string;
  iv: string;
  rawData?: string | undefined;
  signature?: string | undefined;
}

export interface DecryptCaller {
  userId: string;
  /** The app the caller's session began in (the access token's appId claim). */
  appId: string | null;
}

/**
 * A failed decryption whose key WeChat confirmed this recently is blamed on the data, without asking
 * WeChat again: this bounds the checksession calls a client sending garbage can cause to one per
 * identity per window, and keeps a burst of bad requests off the quota.
 */
const RECENT_CHECK_MS = 30_000;

/**
 * POST /v1/wechat/decrypt (api.md; wechat-api.md §8, §9). The stored session_key of the caller's
 * identity decrypts the data; when that key cannot be right the answer is `session_key_stale` (log in
 * again), and every other failure is its own 400. The decrypted data is returned and never logged.
 */
export function createDecryptService(deps: {
  repository: SessionKeysRepository;
  apps: ReadonlyMap<string, SessionKeyApi>;
  vault: Vault;
  clock: Clock;
  metrics: Metrics;
  events: AuthEvents;
}) {
  const { repository, vault, clock, metrics, events } = deps;

  function fail(
    reason: string,
    code: ErrorCode,
    caller: DecryptCaller,
    meta: RequestMeta,
    message?: string,
  ): never {
    metrics.decryptFailures.inc({ reason });
    void events.emit({
      type: 'wechat.decrypt',
      outcome: 'fail',
      userId: caller.userId,
      appId: caller.appId,
      requestId: meta.requestId,
      ip: meta.ip,
      reason,
    });
    throw new AppError(code, message === undefined ? {} : { message });
  }

  return {
    async decrypt(
      caller: DecryptCaller,
      input: DecryptInput,
      meta: RequestMeta,
    ): Promise<{ data: Record<string, unknown> }> {
      const appId = caller.appId;
      if (appId === null) return fail('no_wechat_identity', 'wechat_identity_required', caller, meta);
      if ((input.rawData === undefined) !== (input.signature === undefined)) {
        return fail(
          'malformed_input',
          'invalid_request',
          caller,
          meta,
          'Send rawData and signature together, or neither.',
        );
      }
      const parsed = parseOpenDataInput(input.encryptedData, input.iv);
      if ('problem' in parsed) {
        const message =
          parsed.problem === 'iv_malformed'
            ? 'iv must be canonical base64 of 16 bytes.'
            : 'encryptedData must be canonical base64 of a whole number of 16-byte blocks.';
        return fail('malformed_input', 'encrypted_data_invalid', caller, meta, message);
      }
      const api = deps.apps.get(appId);
      if (!api) return fail('app_unknown', 'app_unknown', caller, meta);

      const stored = await repository.findForDecrypt(caller.userId, appId);
      if (!stored || stored.sessionKeyEnc === null)
        return fail('key_absent', 'session_key_stale', caller, meta);
      if (stored.status === 'stale') return fail('key_stale', 'session_key_stale', caller, meta);
      const sessionKey = vault.open(stored.sessionKeyEnc, identitySessionKeyContext(appId, stored.openid));
      // R27: a sealed key the vault refuses is treated as absent (the vault emitted the security event).
      if (sessionKey === null) return fail('key_unreadable', 'session_key_stale', caller, meta);
      const key = sessionKeyBytes(sessionKey);
      if (!key) return fail('key_unusable', 'session_key_stale', caller, meta);

      const data = decryptOpenData(key, parsed.iv, parsed.ciphertext);
      if (data === null) {
        // With CBC and no MAC, "wrong key" and "corrupt data" look the same: WeChat tells them apart.
        const recent = stored.checkedAt !== null && clock.now() - stored.checkedAt < RECENT_CHECK_MS;
        if (!recent) {
          let verdict: 'valid' | 'invalid';
          try {
            verdict = await api.checkSessionKey(stored.openid, sessionKey);
          } catch (err) {
            if (isAppError(err)) metrics.decryptFailures.inc({ reason: 'upstream_error' });
            throw err;
          }
          const now = new Date(clock.now());
          if (verdict === 'invalid') {
            await repository.recordVerdict(appId, stored.openid, stored.version, 'stale', now);
            return fail('key_rejected', 'session_key_stale', caller, meta);
          }
          await repository.recordVerdict(appId, stored.openid, stored.version, 'valid', now);
        }
        return fail('data_invalid', 'encrypted_data_invalid', caller, meta);
      }
      const mark = watermarkAppId(data);
      if (mark !== appId) {
        return fail(
          mark === null ? 'watermark_missing' : 'wrong_app',
          'open_data_app_mismatch',
          caller,
          meta,
        );
      }
      if (input.rawData !== undefined && input.signature !== undefined) {
        if (!rawDataSignatureMatches(input.rawData, sessionKey, input.signature)) {
          return fail('signature_mismatch', 'open_data_signature_invalid', caller, meta);
        }
      }
      return { data };
    },
  };
}

export type DecryptService = ReturnType<typeof createDecryptService>;
