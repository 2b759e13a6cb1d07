import { postJson } from '../lib/http.ts';
import { wxauthLogins } from '../lib/logins.ts';
import type { CodePool } from '../sim/client.ts';

type RefreshAnswer = { refreshToken?: string; error?: { code?: string } };

/**
 * R19 under the benchmark's own configuration: rotate twice, replay the first token (an ancestor, so
 * no grace applies) → 401 refresh_token_reused; then the newest token must be dead too (family revoked).
 */
export async function checkReuseDetection(url: string, codes: CodePool): Promise<string> {
  const refresh = (refreshToken: string) =>
    postJson<RefreshAnswer>(`${url}/v1/auth/token/refresh`, { refreshToken });
  const [first] = await wxauthLogins(url, codes, 1);
  const r0 = first!.refreshToken;
  const r1 = (await refresh(r0)).body.refreshToken;
  const r2 = r1 ? (await refresh(r1)).body.refreshToken : undefined;
  if (!r1 || !r2) return 'FAILED (could not rotate twice)';
  const replay = await refresh(r0);
  if (replay.status !== 401 || replay.body.error?.code !== 'refresh_token_reused')
    return `FAILED (replay answered ${replay.status} ${replay.body.error?.code ?? ''})`;
  const after = await refresh(r2);
  if (after.status !== 401) return `FAILED (family not revoked: newest token answered ${after.status})`;
  return 'ok (replay → 401 refresh_token_reused, family revoked)';
}
