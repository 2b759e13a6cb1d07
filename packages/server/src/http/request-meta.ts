import type { FastifyRequest } from 'fastify';
import type { RequestMeta } from '../sessions/sessions.service.ts';

export function requestMeta(request: FastifyRequest): RequestMeta {
  const ua = request.headers['user-agent'];
  return { requestId: request.id, ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null };
}
