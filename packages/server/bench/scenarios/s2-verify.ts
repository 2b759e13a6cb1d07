import { closed, cycler } from '../lib/contenders.ts';
import { createEs256Signer } from '../lib/es256.ts';
import { betterAuthLogins, wxauthLogins } from '../lib/logins.ts';
import { type Row, rowOf, rpsRatio, type Scenario, unavailableRow } from '../lib/results.ts';
import { type Contender, interleave } from '../lib/rounds.ts';
import {
  type BetterAuthSettings,
  betterAuthAvailable,
  describeBetterAuth,
  FLOOR_KID,
  floorJwk,
  type System,
  startBetterAuth,
  startFloor,
  startWxauth,
  stopAll,
  tryStart,
} from '../lib/systems.ts';
import { APP_ID, startSim } from '../sim/client.ts';

const CONNECTIONS = 100;
const BA_NO_CACHE: BetterAuthSettings = { cookieCache: false, awaitSend: false, updateAge: 86_400 };
const BA_CACHE: BetterAuthSettings = { cookieCache: true, awaitSend: false, updateAge: 86_400 };

/**
 * S2, authenticate a request: GET /__bench/me on wxauth (claims only, behind the app's real
 * requireAuth: token verify + the R21 session check) against the same app's bare route, ES256 verify
 * routes with node:crypto and with jose (no cache, no session check), and better-auth getSession
 * without and with its cookie cache. Each system gets a pool of tokens of real sessions, used
 * round-robin: the steady state of clients repeating requests with their current token.
 */
export const s2: Scenario = {
  id: 'S2',
  title: 'Token verification on a protected route',
  perStore: true,
  async run({ profile, store, log }) {
    const sim = await startSim();
    const systems: (System | { unavailable: string })[] = [];
    try {
      const baUnavailable = { unavailable: 'comparators/better-auth/server.ts does not exist yet' };
      const [wxauth, floor, baPlain, baCached] = await Promise.all([
        startWxauth(store, sim),
        startFloor('stub', sim),
        betterAuthAvailable() ? tryStart(() => startBetterAuth(store, sim, BA_NO_CACHE)) : baUnavailable,
        betterAuthAvailable() ? tryStart(() => startBetterAuth(store, sim, BA_CACHE)) : baUnavailable,
      ]);
      systems.push(wxauth, floor, baPlain, baCached);

      const n = profile.tokenPool;
      const ours = (await wxauthLogins(wxauth.url, sim.codes, n)).map((t) => t.accessToken);
      const sign = createEs256Signer(floorJwk, FLOOR_KID);
      const floorTokens = Array.from({ length: n }, (_, i) =>
        sign({ sub: `user-${i}`, sid: `s-${i}`, appId: APP_ID }),
      );
      const bearer = (pool: readonly string[], path: string) => {
        const nextToken = cycler(pool);
        return () => ({
          method: 'GET' as const,
          path,
          headers: { authorization: `Bearer ${nextToken()}` },
        });
      };

      const hasSid = (body: string) => body.includes('"sid"');
      const contenders: Contender[] = [
        closed('wxauth /__bench/me', {
          origin: wxauth.url,
          connections: CONNECTIONS,
          next: bearer(ours, '/__bench/me'),
          verifyBody: hasSid,
          cpuUrl: wxauth.url,
        }),
        closed('wxauth bare', {
          origin: wxauth.url,
          connections: CONNECTIONS,
          next: () => ({ method: 'GET', path: '/__bench/bare' }),
          cpuUrl: wxauth.url,
        }),
        closed('node:crypto ES256', {
          origin: floor.url,
          connections: CONNECTIONS,
          next: bearer(floorTokens, '/verify/node'),
          verifyBody: hasSid,
          cpuUrl: floor.url,
        }),
        closed('jose jwtVerify', {
          origin: floor.url,
          connections: CONNECTIONS,
          next: bearer(floorTokens, '/verify/jose'),
          verifyBody: hasSid,
          cpuUrl: floor.url,
        }),
      ];
      for (const [id, ba] of [
        ['better-auth no cache', baPlain],
        ['better-auth cookie cache', baCached],
      ] as const) {
        if (!('url' in ba)) continue;
        const sessions = await betterAuthLogins(ba.url, sim.codes, n);
        const next = cycler(sessions);
        contenders.push(
          closed(id, {
            origin: ba.url,
            connections: CONNECTIONS,
            next: () => {
              const s = next();
              return {
                method: 'GET',
                path: '/api/auth/get-session',
                headers: {
                  authorization: `Bearer ${s.token}`,
                  ...(ba === baCached ? { cookie: s.cookie } : {}),
                },
              };
            },
            // getSession answers 200 null for a session it does not know.
            verifyBody: (body) => body.includes('"session"'),
            cpuUrl: ba.url,
          }),
        );
      }
      const samples = await interleave(contenders, profile, log);

      const base = {
        scenario: 'S2' as const,
        store: store.label,
        load: `closed, ${CONNECTIONS} conn, ${n} tokens`,
      };
      const me = rowOf(
        { ...base, system: 'wxauth GET /__bench/me (requireAuth)' },
        samples.get('wxauth /__bench/me'),
      );
      const bare = rowOf({ ...base, system: 'wxauth GET /__bench/bare (S0)' }, samples.get('wxauth bare'));
      const node = rowOf(
        { ...base, system: 'plain Fastify + node:crypto ES256 verify' },
        samples.get('node:crypto ES256'),
      );
      const jose = rowOf(
        { ...base, system: 'plain Fastify + jose jwtVerify (ES256)' },
        samples.get('jose jwtVerify'),
      );
      const baRow = (id: string, ba: System | { unavailable: string }, settings: BetterAuthSettings) =>
        'url' in ba
          ? rowOf(
              { ...base, system: `better-auth getSession (${describeBetterAuth(settings)})` },
              samples.get(id),
            )
          : unavailableRow(
              {
                ...base,
                system: `better-auth getSession (cookie cache ${settings.cookieCache ? 'on' : 'off'})`,
              },
              ba.unavailable,
            );
      const baNoCache = baRow('better-auth no cache', baPlain, BA_NO_CACHE);
      const baCache = baRow('better-auth cookie cache', baCached, BA_CACHE);
      for (const row of [bare, node, jose, baNoCache, baCache]) row.ratio = rpsRatio(me, row);
      const rows: Row[] = [me, bare, node, jose, baNoCache, baCache];
      return {
        rows,
        metrics: { 'S2.vsBare': bare.ratio, 'S2.vsBetterAuthNoCache': baNoCache.ratio },
        notes: [],
      };
    } finally {
      await stopAll(systems);
      await sim.child.stop();
    }
  },
};
