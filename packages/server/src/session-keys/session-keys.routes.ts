import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { claimsOf, createRequireAuth } from '../http/auth.ts';
import { requestMeta } from '../http/request-meta.ts';
import { errorResponses } from '../http/schemas.ts';
import type { SessionsService } from '../sessions/sessions.service.ts';
import type { DecryptService } from './decrypt.service.ts';

// Open data is small (user info, WeRun steps, share info); the app's 64 KiB body limit bounds it anyway.
const Base64Text = Type.String({ minLength: 1, maxLength: 48_000 });

export function sessionKeysRoutes(
  decrypt: DecryptService,
  sessions: SessionsService,
): FastifyPluginAsyncTypebox {
  return async (app) => {
    const requireAuth = createRequireAuth(sessions);
    app.post(
      '/v1/wechat/decrypt',
      {
        preHandler: requireAuth,
        schema: {
          tags: ['wechat'],
          summary: 'Decrypt WeChat open data',
          description:
            'Decrypts encryptedData/iv from wx.getUserInfo, wx.getWeRunData, share info and the like with the session_key kept for the caller’s WeChat identity (AES-128-CBC, PKCS#7), checks the watermark against the app the session began in, and optionally checks signature = sha1(rawData + session_key). `session_key_stale` means the stored key cannot be the right one: call wx.login, log in again, and ask for the data again.',
          security: [{ bearer: [] }],
          body: Type.Object(
            {
              encryptedData: Base64Text,
              iv: Type.String({ minLength: 1, maxLength: 64 }),
              rawData: Type.Optional(Type.String({ maxLength: 32_000 })),
              signature: Type.Optional(
                Type.String({ minLength: 40, maxLength: 40, pattern: '^[0-9a-fA-F]+$' }),
              ),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              data: Type.Record(Type.String(), Type.Unknown(), {
                description: 'The decrypted JSON object, watermark included.',
              }),
            }),
            ...errorResponses(400, 401, 409, 503),
          },
        },
      },
      async (request) => {
        const claims = claimsOf(request);
        return decrypt.decrypt(
          { userId: claims.sub, appId: claims.appId },
          request.body,
          requestMeta(request),
        );
      },
    );
  };
}
