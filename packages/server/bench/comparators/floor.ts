import { createCipheriv, createHash, type JsonWebKey, randomBytes, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { createEs256Signer, publicJwk } from '../lib/es256.ts';
import { openFloorStore } from './floor/store.ts';
import { createCode2Session } from './floor/upstream.ts';
import { verifyRoutes } from './floor/verify-routes.ts';

/**
 * The hand-written floor (S1 a/b, S2 comparators): plain Fastify doing exactly what a WeChat login
 * must do and nothing else — code2Session over keep-alive undici, one SQL statement (or none, with
 * FLOOR_DB=stub), an AES-256-GCM seal of the session_key, an ES256 access token signed with
 * node:crypto, and a random refresh token stored as its SHA-256.
 *   POST /wechat/login {code}        the floor login
 *   POST /proxy/code2session {code}  only the upstream call: the simulator's latency as a client sees it
 *   GET  /verify/node, /verify/jose  S2 (floor/verify-routes.ts)
 *   GET  /__bench/cpu
 * Env: FLOOR_DB=pglite|pg|stub, FLOOR_DATABASE_URL, FLOOR_SCHEMA, SIM_URL, WX_APP_ID, WX_SECRET,
 * FLOOR_JWK (a private P-256 JWK), FLOOR_KID.
 */
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const appId = env('WX_APP_ID');
const kind = env('FLOOR_DB') as 'pglite' | 'pg' | 'stub';
const jwk = JSON.parse(env('FLOOR_JWK')) as JsonWebKey;
const kid = env('FLOOR_KID');

const store = await openFloorStore(kind, process.env.FLOOR_DATABASE_URL, process.env.FLOOR_SCHEMA);
const upstream = createCode2Session({ baseUrl: env('SIM_URL'), appId, secret: env('WX_SECRET') });
const signAccess = createEs256Signer(jwk, kid);
const vaultKey = randomBytes(32);

function seal(plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', vaultKey, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

const app = Fastify({ logger: false });
const codeBody = {
  body: {
    type: 'object',
    required: ['code'],
    properties: { code: { type: 'string', minLength: 1, maxLength: 128 } },
  },
} as const;

app.post<{ Body: { code: string } }>('/wechat/login', { schema: codeBody }, async (request, reply) => {
  let identity: Awaited<ReturnType<typeof upstream.code2Session>>;
  try {
    identity = await upstream.code2Session(request.body.code);
  } catch {
    return reply.status(502).send({ error: { code: 'upstream_unavailable' } });
  }
  const now = new Date();
  const sessionId = randomUUID();
  const secret = randomBytes(32);
  const { userId, isNew } = await store.login({
    appId,
    openid: identity.openid,
    unionid: identity.unionid,
    sessionKeyEnc: seal(identity.sessionKey),
    newUserId: randomUUID(),
    sessionId,
    tokenHash: createHash('sha256').update(secret).digest(),
    now,
    expiresAt: new Date(now.getTime() + 30 * 86_400_000),
  });
  return {
    tokenType: 'Bearer',
    accessToken: signAccess({ sub: userId, sid: sessionId, appId }),
    expiresIn: 900,
    refreshToken: `${sessionId}.${secret.toString('base64url')}`,
    user: { id: userId },
    isNewUser: isNew,
  };
});

app.post<{ Body: { code: string } }>('/proxy/code2session', { schema: codeBody }, async (request, reply) => {
  try {
    const identity = await upstream.code2Session(request.body.code);
    return { openid: identity.openid };
  } catch {
    return reply.status(502).send({ error: { code: 'upstream_unavailable' } });
  }
});

await verifyRoutes(app, publicJwk(jwk), kid);
app.get('/__bench/cpu', async () => process.cpuUsage());

const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`READY ${address}\n`);
process.on('SIGTERM', async () => {
  setTimeout(() => process.exit(0), 3_000).unref();
  await app.close();
  await upstream.close();
  await store.close();
  process.exit(0);
});
