import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { LimitRule, RateLimiter } from '../adapters/kv/kv.types.ts';
import { AppError } from '../errors.ts';
import { claimsOf, createRequireAuth } from '../http/auth.ts';
import { requestMeta } from '../http/request-meta.ts';
import { AppId, errorResponses, TokenResponseSchema, WechatCode } from '../http/schemas.ts';
import type { SessionsService } from '../sessions/sessions.service.ts';
import type { SmsCodeService } from './phone.service.ts';
import type { PhoneLoginService } from './phone-login.service.ts';

const Phone = Type.String({ minLength: 1, maxLength: 64, description: 'Mobile number; +86 may be omitted.' });
const SmsCode = Type.String({ minLength: 1, maxLength: 16, description: 'The 6-digit code.' });
/** R23: OTP verification per client IP (360 an hour), on top of the per-code and per-phone limits. */
const VERIFY_RULE: LimitRule = { name: 'sms_verify_ip_1h', windowMs: 3_600_000, max: 360 };

export function phoneRoutes(deps: {
  smsCodes: SmsCodeService;
  phoneLogin: PhoneLoginService;
  sessions: SessionsService;
  /** Falls back to memory when Redis is down: verification must stay available and limited (R24). */
  verifyLimiter: RateLimiter;
  /** R23's per-IP login limit (null = off). */
  loginLimit: ((request: FastifyRequest) => Promise<void>) | null;
}): FastifyPluginAsyncTypebox {
  return async (app) => {
    const requireAuth = createRequireAuth(deps.sessions);
    const limitVerify = async (ip: string) => {
      const decision = await deps.verifyLimiter.hit(VERIFY_RULE, ip);
      if (!decision.allowed) throw new AppError('rate_limited', { retryAfter: decision.retryAfterSec });
    };

    app.post(
      '/v1/auth/sms/send',
      {
        schema: {
          tags: ['phone'],
          summary: 'Send a one-time code by SMS',
          description:
            'Limits (per phone 1/60 s, 5/h, 10/24 h; per IP 10/10 min, 30/24 h; a daily budget) are checked before the provider is called; 429 carries Retry-After. The answer does not reveal whether the phone has an account.',
          body: Type.Object(
            {
              phone: Phone,
              purpose: Type.Optional(Type.Union([Type.Literal('login'), Type.Literal('bind')])),
            },
            { additionalProperties: false },
          ),
          response: {
            202: Type.Object({ expiresIn: Type.Integer(), retryAfter: Type.Integer() }),
            ...errorResponses(400, 429, 502, 503),
          },
        },
      },
      async (request, reply) => {
        const result = await deps.smsCodes.send(
          { phone: request.body.phone, purpose: request.body.purpose ?? 'login' },
          requestMeta(request),
        );
        return reply.status(202).send(result);
      },
    );

    app.post(
      '/v1/auth/sms/login',
      {
        schema: {
          tags: ['phone'],
          summary: 'Log in with a phone number and an SMS code',
          description:
            'With `wechatCode` (a wx.login code), the WeChat identity is linked to the phone’s account.',
          body: Type.Object(
            {
              phone: Phone,
              code: SmsCode,
              wechatCode: Type.Optional(WechatCode),
              appId: Type.Optional(AppId),
            },
            { additionalProperties: false },
          ),
          response: { 200: TokenResponseSchema, ...errorResponses(400, 409, 429, 503) },
        },
      },
      async (request) => {
        await limitVerify(request.ip);
        await deps.loginLimit?.(request);
        return deps.phoneLogin.loginWithSms(request.body, requestMeta(request));
      },
    );

    app.post(
      '/v1/auth/wechat/phone-login',
      {
        schema: {
          tags: ['phone'],
          summary: 'One-tap login: wx.login code + getPhoneNumber code',
          body: Type.Object(
            { loginCode: WechatCode, phoneCode: WechatCode, appId: Type.Optional(AppId) },
            { additionalProperties: false },
          ),
          response: { 200: TokenResponseSchema, ...errorResponses(400, 403, 409, 503) },
        },
      },
      async (request) => {
        await deps.loginLimit?.(request);
        return deps.phoneLogin.loginWithWechatPhone(request.body, requestMeta(request));
      },
    );

    app.post(
      '/v1/me/phone',
      {
        preHandler: requireAuth,
        schema: {
          tags: ['phone'],
          summary: 'Bind a phone to the current user',
          description:
            'Either `{phoneCode}` (getPhoneNumber button) or `{phone, code}` (an SMS code sent with purpose "bind"). Needs a login within the last 5 minutes; ends the user’s other sessions.',
          security: [{ bearer: [] }],
          body: Type.Union([
            Type.Object({ phoneCode: WechatCode }, { additionalProperties: false }),
            Type.Object({ phone: Phone, code: SmsCode }, { additionalProperties: false }),
          ]),
          response: {
            200: Type.Object({ phone: Type.String() }),
            ...errorResponses(400, 401, 403, 409, 429),
          },
        },
      },
      async (request) => {
        const body = request.body;
        if ('code' in body) await limitVerify(request.ip);
        return deps.phoneLogin.bindPhone(claimsOf(request), body, requestMeta(request));
      },
    );
  };
}
