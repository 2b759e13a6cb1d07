import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestMeta } from '../http/request-meta.ts';
import { AppId, errorResponses, TokenResponseSchema, WechatCode } from '../http/schemas.ts';
import type { LoginService } from './login.service.ts';

export function loginRoutes(
  login: LoginService,
  limit: ((request: FastifyRequest) => Promise<void>) | null,
): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/auth/wechat/login',
      {
        ...(limit ? { preHandler: limit } : {}),
        schema: {
          tags: ['auth'],
          summary: 'Log in with a wx.login code',
          description:
            'Exchanges the code with WeChat (code2Session), finds or creates the user for (appId, openid), keeps the session_key encrypted on the server, and returns our own tokens. The same code sent again while it is being exchanged, or shortly after, logs the same user in without a second WeChat call.',
          body: Type.Object(
            { code: WechatCode, appId: Type.Optional(AppId) },
            { additionalProperties: false },
          ),
          response: { 200: TokenResponseSchema, ...errorResponses(400, 403, 429, 502, 503) },
        },
      },
      async (request) =>
        login.loginWithWechat({ code: request.body.code, appId: request.body.appId }, requestMeta(request)),
    );
  };
}
