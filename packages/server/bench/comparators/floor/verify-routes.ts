import type { JsonWebKey } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { importJWK, jwtVerify } from 'jose';
import { AUDIENCE, createEs256Verifier, ISSUER } from '../../lib/es256.ts';

/**
 * S2's verify comparators: a claims-only route behind (a) a hand-rolled node:crypto ES256 check and
 * (b) jose's jwtVerify. Neither caches verified tokens and neither looks at a session store.
 */
export async function verifyRoutes(
  app: FastifyInstance,
  publicKeyJwk: JsonWebKey,
  kid: string,
): Promise<void> {
  const verifyByHand = createEs256Verifier(publicKeyJwk, kid);
  const joseKey = await importJWK(publicKeyJwk, 'ES256');
  const bearer = (request: FastifyRequest) => {
    const header = request.headers.authorization;
    return typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : null;
  };
  const unauthorized = (reply: FastifyReply) => reply.status(401).send({ error: { code: 'unauthorized' } });

  app.get('/verify/node', async (request, reply) => {
    const token = bearer(request);
    const claims = token ? verifyByHand(token) : null;
    return claims ?? unauthorized(reply);
  });

  app.get('/verify/jose', async (request, reply) => {
    const token = bearer(request);
    if (!token) return unauthorized(reply);
    try {
      const { payload } = await jwtVerify(token, joseKey, {
        algorithms: ['ES256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: 'at+jwt',
      });
      return payload;
    } catch {
      return unauthorized(reply);
    }
  });
}
