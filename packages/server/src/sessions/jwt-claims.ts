/**
 * The registered-claim checks of an access token, in the order and with the outcomes of jose's
 * `jwtVerify` (which this replaced on the hot path, see token-signer.ts): the first failing check
 * names the claim, so rejections read the same as before and tests pin them.
 */
export interface ClaimsPolicy {
  issuer: string;
  audience: string;
  leewaySec: number;
  /** Claims that must be present, in the order they are reported when missing. */
  required: readonly string[];
}

export type ClaimsCheck = { ok: true } | { ok: false; reason: string };

const fail = (reason: string): ClaimsCheck => ({ ok: false, reason });

export function checkClaims(
  payload: Record<string, unknown>,
  policy: ClaimsPolicy,
  nowSec: number,
): ClaimsCheck {
  for (const claim of policy.required) {
    if (!(claim in payload)) return fail(`${claim} check failed`);
  }
  if (payload.iss !== policy.issuer) return fail('iss check failed');
  const { aud } = payload;
  const audienceOk =
    typeof aud === 'string' ? aud === policy.audience : Array.isArray(aud) && aud.includes(policy.audience);
  if (!audienceOk) return fail('aud check failed');
  if (payload.iat !== undefined && typeof payload.iat !== 'number') return fail('iat check failed');
  if (payload.nbf !== undefined) {
    if (typeof payload.nbf !== 'number' || payload.nbf > nowSec + policy.leewaySec)
      return fail('nbf check failed');
  }
  if (payload.exp !== undefined) {
    if (typeof payload.exp !== 'number') return fail('exp check failed');
    if (payload.exp <= nowSec - policy.leewaySec) return fail('expired');
  }
  return { ok: true };
}
