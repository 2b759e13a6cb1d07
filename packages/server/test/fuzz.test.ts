import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, startHarness, wechatLogin } from './support/harness.ts';
import { pgliteStore } from './support/test-db.ts';

/** Every endpoint, fed malformed input: always a 4xx with an error code, never a 5xx (reliability.md B.2). */
const ENDPOINTS: { method: 'GET' | 'POST' | 'DELETE'; url: string; auth: boolean }[] = [
  { method: 'POST', url: '/v1/auth/wechat/login', auth: false },
  { method: 'POST', url: '/v1/auth/token/refresh', auth: false },
  { method: 'POST', url: '/v1/auth/logout', auth: true },
  { method: 'GET', url: '/v1/me', auth: true },
  { method: 'GET', url: '/v1/sessions', auth: true },
  { method: 'DELETE', url: '/v1/sessions/abc', auth: true },
  { method: 'POST', url: '/v1/auth/sms/send', auth: false },
  { method: 'POST', url: '/v1/auth/sms/login', auth: false },
  { method: 'POST', url: '/v1/auth/wechat/phone-login', auth: false },
  { method: 'POST', url: '/v1/me/phone', auth: true },
];

const FIELDS = [
  'code',
  'appId',
  'refreshToken',
  'all',
  '__proto__',
  'constructor',
  'prototype',
  'session_key',
];
const nasty = fc.oneof(
  fc.jsonValue(),
  fc.string({ maxLength: 300 }),
  fc.constantFrom(
    '123456',
    '123456 ',
    '１２３４５６',
    '',
    ' ',
    '\u200b',
    'a'.repeat(129),
    '../../etc',
    'null',
    'true',
  ),
  fc.constantFrom('13800138000', '+8613800138000', '+85261234567', '١٣٨٠٠١٣٨٠٠٠', 'login', 'bind'),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
);
const body = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), nasty, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '{"__proto__":{"polluted":1},"code":"abc"}',
    '{"code":"a","code":"b"}',
    '{',
    '[]',
    'null',
    '""',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
);
const contentType = fc.constantFrom(
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-8',
  undefined,
);
const authorization = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 100 }).map((s) => `Bearer ${s}`),
  fc.constantFrom(
    'Bearer a.b.c',
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    'Basic Zm9vOmJhcg==',
    'Bearer',
  ),
);

describe('fuzzed requests never cause a 5xx', () => {
  let db: Db;
  let h: Harness;
  let validToken = '';
  beforeAll(async () => {
    db = await pgliteStore.open();
    h = await startHarness({ db });
    validToken = (await wechatLogin(h)).body.accessToken;
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it.each(ENDPOINTS)('$method $url', async (endpoint) => {
    await fc.assert(
      fc.asyncProperty(
        body,
        contentType,
        authorization,
        fc.boolean(),
        async (payload, type, auth, useValidToken) => {
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          const bearer = endpoint.auth && useValidToken ? `Bearer ${validToken}` : auth;
          if (bearer) headers.authorization = bearer;
          const res = await h.app.inject({
            method: endpoint.method,
            url: endpoint.url,
            headers,
            ...(endpoint.method === 'GET' ? {} : { payload }),
          });
          expect(res.statusCode, `${res.statusCode} ${res.body}`).toBeLessThan(500);
          if (res.statusCode >= 400) {
            const error = res.json().error;
            expect(error.code).toMatch(/^[a-z_]+$/);
            expect(typeof error.requestId).toBe('string');
          }
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses oversized bodies with 413 and unknown routes with 404, both with codes', async () => {
    const big = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ code: 'a'.repeat(200_000), appId: APP_ID }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');
    const missing = await h.app.inject({ url: '/v1/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
  });
});
