import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../src/deps.ts';
import { claimsOf, createRequireAuth } from '../../src/http/auth.ts';
import type { BenchSmsProvider } from './delayed-inbox.ts';
import { keysetScan, seedIdentities } from './seed-identities.ts';

const MAX_OTPS_PER_CALL = 20_000;

/**
 * Bench-only routes, mounted on the real app (so every hook and plugin applies to them):
 *   GET  /__bench/bare    S0: all plugins registered, no auth
 *   GET  /__bench/cpu     process.cpuUsage()       GET /__bench/mem  process.memoryUsage()
 *   GET  /__bench/me      S2: claims only, behind the app's real requireAuth (verify + session check)
 *   GET  /__bench/otp?phone=  and POST /__bench/otps {phones}: the codes the SMS provider "sent" (S4)
 *   POST /__bench/seed-identities, /__bench/scan, /__bench/session-key-check: S6
 */
export function benchRoutes(deps: Deps, sms: BenchSmsProvider) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/__bench/bare', async () => ({ ok: true }));
    app.get('/__bench/cpu', async () => process.cpuUsage());
    app.get('/__bench/mem', async () => process.memoryUsage());

    app.get('/__bench/me', { preHandler: createRequireAuth(deps.sessions) }, async (request) =>
      claimsOf(request),
    );

    app.get<{ Querystring: { phone?: string } }>('/__bench/otp', async (request, reply) => {
      const code = sms.latestCode(request.query.phone ?? '');
      return code === null ? reply.status(404).send({ code: null }) : { code };
    });
    app.post<{ Body: { phones: string[] } }>('/__bench/otps', async (request) => {
      const phones = request.body.phones.slice(0, MAX_OTPS_PER_CALL);
      return { codes: phones.map((phone) => sms.latestCode(phone)) };
    });

    app.post<{ Body: { appId: string; prefix: string; n: number; seed: string } }>(
      '/__bench/seed-identities',
      async (request) => seedIdentities(deps.db.kysely, deps.vault, request.body),
    );
    app.post<{ Body: { pageSize?: number } }>('/__bench/scan', async (request) =>
      keysetScan(deps.db.kysely, request.body.pageSize ?? 500),
    );
    app.post<{ Body: { timeoutMs: number } }>('/__bench/session-key-check', async (request) => {
      const started = performance.now();
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 250);
      try {
        const summary = await deps.sessionKeyCheck.run({
          signal: AbortSignal.timeout(request.body.timeoutMs),
        });
        return { summary, wallMs: performance.now() - started, rssBefore, rssPeak };
      } finally {
        clearInterval(sampler);
      }
    });
  };
}
