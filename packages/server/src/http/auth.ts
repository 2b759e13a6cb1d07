import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { SessionsService } from '../sessions/sessions.service.ts';
import type { AccessTokenClaims } from '../sessions/token-signer.types.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AccessTokenClaims | null;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** A preHandler that admits only requests with a valid access token of an active session (R16, R21). */
export function createRequireAuth(sessions: SessionsService) {
  return async function requireAuth(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (!match) throw new AppError('unauthorized');
    request.auth = await sessions.authenticate(match[1]!);
  };
}

/** The claims of an authenticated request; routes behind requireAuth only. */
export function claimsOf(request: FastifyRequest): AccessTokenClaims {
  if (!request.auth) throw new AppError('unauthorized');
  return request.auth;
}
