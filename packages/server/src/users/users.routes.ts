import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../errors.ts';
import { claimsOf, createRequireAuth } from '../http/auth.ts';
import { errorResponses, WechatIdentitySchema } from '../http/schemas.ts';
import type { SessionsService } from '../sessions/sessions.service.ts';
import type { UsersRepository } from './users.repository.ts';

export function usersRoutes(users: UsersRepository, sessions: SessionsService): FastifyPluginAsyncTypebox {
  return async (app) => {
    const requireAuth = createRequireAuth(sessions);
    app.get(
      '/v1/me',
      {
        preHandler: requireAuth,
        schema: {
          tags: ['users'],
          summary: 'The current user',
          security: [{ bearer: [] }],
          response: {
            200: Type.Object({
              id: Type.String(),
              phone: Type.Union([Type.String(), Type.Null()]),
              wechat: Type.Array(WechatIdentitySchema),
              createdAt: Type.Integer({ description: 'Unix time, seconds.' }),
            }),
            ...errorResponses(401),
          },
        },
      },
      async (request) => {
        const profile = await users.findUserProfile(claimsOf(request).sub);
        if (!profile) throw new AppError('unauthorized');
        return { ...profile, createdAt: Math.floor(profile.createdAt.getTime() / 1000) };
      },
    );
  };
}
