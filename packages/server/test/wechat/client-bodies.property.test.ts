import fc from 'fast-check';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRetryBudget, createWeChatClient } from '../../src/adapters/wechat/index.ts';
import { createManualClock } from '../../src/clock.ts';
import { AppError } from '../../src/errors.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { type ScriptedResponse, startFakeWeChat } from './support/fake-wechat.ts';
import { captureLogger } from './support/harness.ts';

/**
 * B.2 "WeChat client": random upstream answers are classified, never taken for success unless they are
 * a complete success body, and retried only for the retryable classes (-1, 5xx, reset: R3).
 */

type Expect =
  | { kind: 'success'; value: Record<string, unknown> }
  | { kind: 'retryable' }
  | { kind: 'token_invalid' }
  | { kind: 'signature_invalid' }
  | { kind: 'fail'; code: string };

interface Generated {
  response: ScriptedResponse;
  expect: Expect;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const json = (body: unknown, status = 200): ScriptedResponse => ({
  kind: 'reply',
  status,
  contentType: JSON_TYPE,
  body: JSON.stringify(body),
});
const rid = fc
  .tuple(fc.stringMatching(/^[0-9a-f]{8}$/), fc.stringMatching(/^[0-9a-f]{8}$/))
  .map(([a, b]) => `, rid: ${a}-${b}-0000abcd`);

const KNOWN: Record<number, string> = {
  40029: 'wechat_code_invalid',
  40163: 'wechat_code_invalid',
  40226: 'wechat_user_blocked',
  45011: 'upstream_unavailable',
  45009: 'upstream_quota_exhausted',
  40013: 'upstream_misconfigured',
  40125: 'upstream_misconfigured',
  48001: 'upstream_misconfigured',
  87008: 'internal_error',
};
const TOKEN_CODES = [40001, 42001, 41001];

const id = fc.stringMatching(/^[A-Za-z0-9_-]{28}$/);
const sessionKey = fc.stringMatching(/^[A-Za-z0-9+/]{22}==$/);

const validCode2Session = fc
  .record(
    {
      openid: id,
      session_key: sessionKey,
      unionid: id,
      errcode: fc.constant(0),
      expires_in: fc.constant(7200),
    },
    { requiredKeys: ['openid', 'session_key'] },
  )
  .map((body) => ({
    body,
    value: { openid: body.openid, sessionKey: body.session_key, unionid: body.unionid ?? null },
  }));

function answers(api: 'code2session' | 'checksession'): fc.Arbitrary<Generated> {
  const valid =
    api === 'code2session'
      ? validCode2Session.map(
          ({ body, value }) => ({ response: json(body), expect: { kind: 'success', value } }) as Generated,
        )
      : fc.constant<Generated>({
          response: json({ errcode: 0, errmsg: 'ok' }),
          expect: { kind: 'success', value: {} },
        });
  // A success body with one required field dropped or mistyped: never a success (bad_response).
  const broken =
    api === 'code2session'
      ? fc
          .tuple(
            validCode2Session,
            fc.constantFrom('openid', 'session_key'),
            fc.constantFrom(undefined, 42, {}, '', 'a b'),
          )
          .map(([{ body }, field, replacement]) => json({ ...body, [field]: replacement }))
      : fc.constantFrom(json({ errmsg: 'ok' }), json({}), json({ errcode: '0' }), json({ errcode: 0.5 }));
  const bad = (response: fc.Arbitrary<ScriptedResponse>) =>
    response.map(
      (r) => ({ response: r, expect: { kind: 'fail', code: 'upstream_unavailable' } }) as Generated,
    );
  // The same answers padded with JSON whitespace: under the 64 KB cap (several socket chunks) still a
  // success; past it, never read to the end and never a success.
  const padded = (bytes: number) => (g: Generated) =>
    g.response.kind === 'reply' ? { ...g.response, body: g.response.body + ' '.repeat(bytes) } : g.response;
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 1, arbitrary: valid.map((g) => ({ ...g, response: padded(60_000)(g) }) as Generated) },
    { weight: 1, arbitrary: bad(valid.map(padded(70_000))) },
    {
      weight: 2,
      arbitrary: rid.map(
        (r) =>
          ({
            response: json({ errcode: -1, errmsg: `system error${r}` }),
            expect: { kind: 'retryable' },
          }) as Generated,
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(500, 502, 503, 504).map(
        (status) =>
          ({
            response: { kind: 'reply', status, contentType: 'text/html', body: `<html>${status}</html>` },
            expect: { kind: 'retryable' },
          }) as Generated,
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constant<Generated>({ response: { kind: 'reset' }, expect: { kind: 'retryable' } }),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(fc.constantFrom(...Object.keys(KNOWN).map(Number)), rid).map(
        ([errcode, r]) =>
          ({
            response: json({ errcode, errmsg: `x${r}` }),
            expect: { kind: 'fail', code: KNOWN[errcode]! },
          }) as Generated,
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...TOKEN_CODES).map(
        (errcode) =>
          ({
            response: json({ errcode, errmsg: 'token' }),
            expect: { kind: 'token_invalid' },
          }) as Generated,
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constant<Generated>({
        response: json({ errcode: 87009, errmsg: 'invalid signature' }),
        expect:
          api === 'checksession'
            ? { kind: 'signature_invalid' }
            : { kind: 'fail', code: 'session_key_stale' },
      }),
    },
    // Unknown errcodes: never success, never retried.
    {
      weight: 2,
      arbitrary: bad(
        fc
          .integer({ min: -100_000, max: 100_000 })
          .filter(
            (n) =>
              n !== 0 &&
              n !== -1 &&
              !(n in KNOWN) &&
              !TOKEN_CODES.includes(n) &&
              n !== 87009 &&
              n !== 41008 &&
              ![40002, 40243, 40164, 41002, 41004].includes(n),
          )
          .map((errcode) => json({ errcode, errmsg: 'who knows' })),
      ),
    },
    { weight: 2, arbitrary: bad(broken) },
    {
      weight: 1,
      arbitrary: bad(fc.constantFrom(400, 403, 404, 429).map((status) => json({ errcode: 0 }, status))),
    },
    {
      weight: 2,
      arbitrary: bad(
        fc.constantFrom<ScriptedResponse>(
          { kind: 'reply', status: 200, contentType: 'text/html', body: '<!DOCTYPE html><p>系统繁忙</p>' },
          { kind: 'reply', status: 200, contentType: JSON_TYPE, body: '' },
          { kind: 'reply', status: 200, contentType: JSON_TYPE, body: '  \n' },
        ),
      ),
    },
    // Truncated JSON: every proper prefix of an object's text is invalid JSON.
    {
      weight: 2,
      arbitrary: bad(
        validCode2Session.chain(({ body }) => {
          const text = JSON.stringify(body);
          return fc.integer({ min: 1, max: text.length - 1 }).map(
            (n) =>
              ({
                kind: 'reply',
                status: 200,
                contentType: JSON_TYPE,
                body: text.slice(0, n),
              }) as ScriptedResponse,
          );
        }),
      ),
    },
    // JSON that is not an object at all.
    {
      weight: 1,
      arbitrary: bad(
        fc
          .oneof(
            fc.array(fc.jsonValue(), { maxLength: 3 }),
            fc.string(),
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.constant(null),
          )
          .map((v) => json(v)),
      ),
    },
  );
}

/** What the client should do with a script: the outcome and how many requests it makes. */
function model(api: 'code2session' | 'checksession', script: Generated[]) {
  const maxAttempts = api === 'code2session' ? 2 : 3;
  let next = 0;
  let tokenRetried = false;
  for (;;) {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const { expect: e } = script[next++]!;
      if (e.kind === 'success') return { outcome: e, requests: next };
      if (e.kind === 'signature_invalid') return { outcome: e, requests: next };
      if (e.kind === 'token_invalid') {
        if (api === 'checksession' && !tokenRetried) break;
        return { outcome: { kind: 'fail', code: 'upstream_unavailable' } as const, requests: next };
      }
      if (e.kind === 'retryable' && attempt < maxAttempts) continue;
      const code = e.kind === 'retryable' ? 'upstream_unavailable' : e.code;
      return { outcome: { kind: 'fail', code } as const, requests: next };
    }
    tokenRetried = true;
  }
}

describe('wechat client: random upstream bodies (fast-check)', () => {
  let fake: Awaited<ReturnType<typeof startFakeWeChat>>;
  let agent: Agent;
  beforeAll(async () => {
    fake = await startFakeWeChat();
    agent = new Agent({ connect: { timeout: 1_000 } });
  });
  afterAll(async () => {
    await agent.close();
    await fake.close();
  });

  function client() {
    const clock = createManualClock();
    return createWeChatClient({
      appId: 'wx1234567890abcdef',
      secret: 'secret',
      baseUrl: fake.url,
      clock,
      metrics: createMetrics(),
      logger: captureLogger().logger,
      accessTokens: { get: async () => 'TOKEN_A', invalidate: async () => 'TOKEN_B' },
      dispatcher: agent,
      retry: { baseMs: 0 },
      breaker: { minCalls: 1_000_000 },
      retryBudget: createRetryBudget({ clock, minRetriesPerWindow: 1_000_000 }),
    });
  }

  it.each(['code2session', 'checksession'] as const)(
    '%s: success only for a valid body; retries only retryable classes',
    async (api) => {
      await fc.assert(
        fc.asyncProperty(fc.array(answers(api), { minLength: 6, maxLength: 6 }), async (script) => {
          fake.script(script.map((g) => g.response));
          const want = model(api, script);
          const c = client();
          let got: { kind: 'success'; value: unknown } | { kind: 'invalid' } | { kind: 'fail'; code: string };
          try {
            if (api === 'code2session')
              got = { kind: 'success', value: await c.code2Session('a-valid-code') };
            else {
              const result = await c.checkSessionKey('oOpenid', 'c2Vzc2lvbmtleQ==');
              got = result === 'valid' ? { kind: 'success', value: {} } : { kind: 'invalid' };
            }
          } catch (err) {
            if (!(err instanceof AppError)) throw err;
            got = { kind: 'fail', code: err.code };
          }
          expect(fake.requests().length).toBe(want.requests);
          if (want.outcome.kind === 'success')
            expect(got).toEqual({ kind: 'success', value: want.outcome.value });
          else if (want.outcome.kind === 'signature_invalid') expect(got).toEqual({ kind: 'invalid' });
          else expect(got).toEqual(want.outcome);
        }),
        { numRuns: 200 },
      );
    },
  );
});
