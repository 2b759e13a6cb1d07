import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { RateLimiter } from './adapters/kv/kv.types.ts';
import type { Config } from './config/load-config.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { ipLimit } from './http/ip-limit.ts';
import { opsRoutes } from './http/ops.routes.ts';
import { ErrorBody } from './http/schemas.ts';
import { loginRoutes } from './login/login.routes.ts';
import type { LoginService } from './login/login.service.ts';
import { lazyChildLogger } from './observability/lazy-child-logger.ts';
import type { Logger } from './observability/logger.ts';
import type { Metrics } from './observability/metrics.ts';
import { phoneRoutes } from './phone/phone.routes.ts';
import type { SmsCodeService } from './phone/phone.service.ts';
import type { PhoneLoginService } from './phone/phone-login.service.ts';
import type { DecryptService } from './session-keys/decrypt.service.ts';
import { sessionKeysRoutes } from './session-keys/session-keys.routes.ts';
import { sessionsRoutes } from './sessions/sessions.routes.ts';
import type { SessionsService } from './sessions/sessions.service.ts';
import type { TokenSigner } from './sessions/token-signer.types.ts';
import type { Db } from './storage/create-db.ts';
import type { UsersRepository } from './users/users.repository.ts';
import { usersRoutes } from './users/users.routes.ts';

export interface AppDeps {
  config: Pick<Config, 'trustProxy' | 'loginRatePerMinute' | 'refreshRatePerHour'>;
  logger: Logger;
  metrics: Metrics;
  db: Db;
  login: LoginService;
  sessions: SessionsService;
  users: UsersRepository;
  signer: TokenSigner;
  smsCodes: SmsCodeService;
  phoneLogin: PhoneLoginService;
  verifyLimiter: RateLimiter;
  decrypt: DecryptService;
  /** Extra routes mounted by the composition root (dev mode's /__dev, benchmarks' /__bench). */
  extraRoutes?: ((app: FastifyInstance) => Promise<void>)[];
}

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Builds the HTTP app and never listens, so tests drive it with inject(). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    trustProxy: trustProxyOption(deps.config.trustProxy),
    bodyLimit: 64 * 1024,
    // A caller's request id is kept when it is well-formed, so logs join up across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // One line per failed request (onResponse below) instead of two per request: cheaper, and quieter.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, options) =>
      lazyChildLogger(logger as Logger, bindings, options) as FastifyBaseLogger,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('auth', null);
  // wx.request labels every request application/json, bodiless DELETE and logout included: an empty
  // JSON body is "no body" (routes that need one still fail validation with 400), not a parse error.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, null);
      return;
    }
    parseJson(request, text, done);
  });
  app.addSchema(ErrorBody);
  registerErrorHandling(app);

  // Callback hooks, not async ones: these run on every request, and a promise per hook is measurable
  // next to a bare route (performance.md S0).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ route, status: reply.statusCode }, 'request failed');
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wxauth',
        version: '0.1.0',
        description: 'Login and identity server for WeChat Mini Programs. Errors: see docs/errors.md.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(opsRoutes({ db: deps.db, metrics: deps.metrics }));
  // R23: per-IP limits on the credential endpoints (0 = off, for benchmarks).
  const { loginRatePerMinute: loginRate, refreshRatePerHour: refreshRate } = deps.config;
  const limits = {
    login:
      loginRate > 0
        ? ipLimit(deps.verifyLimiter, { name: 'login_ip_1m', windowMs: 60_000, max: loginRate })
        : null,
    refresh:
      refreshRate > 0
        ? ipLimit(deps.verifyLimiter, { name: 'refresh_ip_1h', windowMs: 3_600_000, max: refreshRate })
        : null,
  };
  await app.register(loginRoutes(deps.login, limits.login));
  await app.register(sessionsRoutes(deps.sessions, deps.signer, limits.refresh));
  await app.register(usersRoutes(deps.users, deps.sessions));
  await app.register(
    phoneRoutes({
      smsCodes: deps.smsCodes,
      phoneLogin: deps.phoneLogin,
      sessions: deps.sessions,
      verifyLimiter: deps.verifyLimiter,
      loginLimit: limits.login,
    }),
  );
  await app.register(sessionKeysRoutes(deps.decrypt, deps.sessions));
  for (const extra of deps.extraRoutes ?? []) await app.register(extra);

  return app;
}

/** Fastify takes a hop count as a function; the other forms pass through. */
function trustProxyOption(
  value: Config['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return value;
}
