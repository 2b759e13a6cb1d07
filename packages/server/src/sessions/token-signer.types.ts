/** Claims wxauth puts in (and requires of) every access token. */
export interface AccessTokenClaims {
  /** user id */
  sub: string;
  /** session (refresh family) id */
  sid: string;
  /** WeChat appId the session began in, when it began with WeChat */
  appId: string | null;
  iat: number;
  exp: number;
}

export interface SignedAccessToken {
  token: string;
  expiresIn: number;
}

export interface TokenSigner {
  sign(input: { sub: string; sid: string; appId: string | null }): Promise<SignedAccessToken>;
  /** Rejects with AppError('unauthorized') on any defect; see R16. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Public keys for /.well-known/jwks.json (primary and verify-only keys; never private parts). */
  jwks(): { keys: Record<string, unknown>[] };
}
