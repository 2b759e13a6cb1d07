import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type Db, isMigrated } from '../storage/create-db.ts';
import { errorResponses } from './schemas.ts';

export function opsRoutes(deps: { db: Db; metrics: Metrics }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          tags: ['ops'],
          summary: 'Liveness',
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    let migrated = false;
    app.get(
      '/readyz',
      {
        schema: {
          tags: ['ops'],
          summary: 'Readiness: the database answers and migrations are applied',
          response: {
            200: Type.Object({ status: Type.Literal('ready'), store: Type.String() }),
            ...errorResponses(503),
          },
        },
      },
      async () => {
        try {
          await deps.db.ping();
          // Once applied, migrations do not un-apply while we run: check them until they are.
          migrated ||= await isMigrated(deps.db);
        } catch (cause) {
          throw new AppError('busy', { message: 'The database is not reachable.', cause, retryAfter: 5 });
        }
        if (!migrated) throw new AppError('busy', { message: 'Migrations are not applied.', retryAfter: 5 });
        return { status: 'ready' as const, store: deps.db.kind };
      },
    );

    app.get(
      '/metrics',
      { schema: { tags: ['ops'], summary: 'Prometheus metrics', hide: true } },
      async (_request, reply) => {
        reply.header('content-type', deps.metrics.registry.contentType);
        return deps.metrics.registry.metrics();
      },
    );
  };
}
