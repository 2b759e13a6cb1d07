import assert from 'node:assert/strict';
import { test } from 'node:test';
import { importJWK, jwtVerify } from 'jose';
import {
  AUDIENCE,
  createEs256Signer,
  createEs256Verifier,
  generateEs256Jwk,
  ISSUER,
  publicJwk,
} from './es256.ts';

test('node:crypto ES256 tokens verify by hand and with jose; tampering fails', async () => {
  const jwk = generateEs256Jwk();
  const token = createEs256Signer(jwk, 'k1')({ sub: 'u1', sid: 's1', appId: 'wx1' });
  const verifyByHand = createEs256Verifier(publicJwk(jwk), 'k1');
  assert.equal(verifyByHand(token)?.sub, 'u1');
  const { payload } = await jwtVerify(token, await importJWK(publicJwk(jwk), 'ES256'), {
    algorithms: ['ES256'],
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: 'at+jwt',
  });
  assert.equal(payload.sid, 's1');
  const [h, p, s] = token.split('.');
  const forged = Buffer.from(p!, 'base64url').toString().replace('u1', 'u2');
  assert.equal(verifyByHand(`${h}.${Buffer.from(forged).toString('base64url')}.${s}`), null);
  assert.equal(createEs256Verifier(publicJwk(jwk), 'k2')(token), null);
});
