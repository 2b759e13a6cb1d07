import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { claimsOf, createRequireAuth } from '../http/auth.ts';
import { requestMeta } from '../http/request-meta.ts';
import { errorResponses, TokenResponseSchema } from '../http/schemas.ts';
import type { SessionsService } from './sessions.service.ts';
import type { TokenSigner } from './token-signer.types.ts';

const SessionSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.Integer({ description: 'Unix time, seconds.' }),
  lastUsedAt: Type.Integer({ description: 'Unix time, seconds.' }),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

export function sessionsRoutes(
  sessions: SessionsService,
  signer: TokenSigner,
  refreshLimit: ((request: FastifyRequest) => Promise<void>) | null,
): FastifyPluginAsyncTypebox {
  return async (app) => {
    const requireAuth = createRequireAuth(sessions);
    const bearer = [{ bearer: [] as string[] }];

    app.post(
      '/v1/auth/token/refresh',
      {
        ...(refreshLimit ? { preHandler: refreshLimit } : {}),
        schema: {
          tags: ['sessions'],
          summary: 'Rotate a refresh token',
          description:
            'Returns new tokens and retires the presented refresh token. Presenting an older token again ends the whole session (refresh_token_reused), except its immediate parent within the grace window, which returns the same new tokens.',
          body: Type.Object(
            { refreshToken: Type.String({ minLength: 1, maxLength: 512 }) },
            { additionalProperties: false },
          ),
          response: { 200: TokenResponseSchema, ...errorResponses(400, 401, 503) },
        },
      },
      async (request) => sessions.refresh(request.body.refreshToken, requestMeta(request)),
    );

    app.post(
      '/v1/auth/logout',
      {
        preHandler: requireAuth,
        schema: {
          tags: ['sessions'],
          summary: 'End this session, or every session of the user',
          security: bearer,
          // null: an empty body sent as application/json (wx.request does that).
          body: Type.Optional(
            Type.Union([
              Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
              Type.Null(),
            ]),
          ),
          response: { 204: Type.Null(), ...errorResponses(400, 401) },
        },
      },
      async (request, reply) => {
        await sessions.logout(claimsOf(request), request.body?.all === true, requestMeta(request));
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/v1/sessions',
      {
        preHandler: requireAuth,
        schema: {
          tags: ['sessions'],
          summary: 'List the active sessions of the current user',
          security: bearer,
          response: { 200: Type.Object({ sessions: Type.Array(SessionSchema) }), ...errorResponses(401) },
        },
      },
      async (request) => ({ sessions: await sessions.list(claimsOf(request)) }),
    );

    app.delete(
      '/v1/sessions/:id',
      {
        preHandler: requireAuth,
        schema: {
          tags: ['sessions'],
          summary: 'End one session of the current user',
          security: bearer,
          params: Type.Object({
            id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
          }),
          response: { 204: Type.Null(), ...errorResponses(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await sessions.revoke(claimsOf(request), request.params.id, requestMeta(request));
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Public keys that sign access tokens',
          response: { 200: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }) },
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=300');
        return signer.jwks();
      },
    );
  };
}
