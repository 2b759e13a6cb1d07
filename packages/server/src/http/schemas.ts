import { Type } from 'typebox';

/**
 * Response schemas double as an allowlist: Fastify serialises only the properties named here, so a
 * field that should never leave the server (a session_key, a hash) cannot leak through a response
 * even if a service put it on an object by mistake.
 */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code (docs/errors.md).' }),
      message: Type.String(),
      requestId: Type.String(),
    }),
  },
  { $id: 'ErrorBody' },
);

export const WechatIdentitySchema = Type.Object({
  appId: Type.String(),
  openid: Type.String(),
  unionid: Type.Union([Type.String(), Type.Null()]),
});

export const UserSchema = Type.Object({
  id: Type.String(),
  phone: Type.Union([Type.String(), Type.Null()]),
  wechat: Type.Array(WechatIdentitySchema),
});

export const TokenResponseSchema = Type.Object({
  tokenType: Type.Literal('Bearer'),
  accessToken: Type.String({ description: 'JWT (ES256), 15 minutes; send as Authorization: Bearer.' }),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires.' }),
  refreshToken: Type.String({ description: 'Opaque; rotated on every refresh.' }),
  refreshExpiresIn: Type.Integer({ description: 'Seconds until the session ends at the latest.' }),
  user: UserSchema,
  isNewUser: Type.Boolean(),
});

/** Error responses every route may give; listed so the OpenAPI document names them. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody])) as Record<number, typeof ErrorBody>;
}

/** WeChat codes are short opaque tokens; R1 bounds them and their charset before anything else runs. */
export const WechatCode = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });
export const AppId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
