import { fromNodeHeaders } from 'better-auth/node';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { BASE_URL, type ComparatorAuth } from './auth.ts';
import type { SmsProvider } from './sms.ts';

/**
 * better-auth on plain Fastify 5, mounted as its Fastify guide shows (better-auth.com/docs/integrations/
 * fastify): a catch-all route that rebuilds a Fetch Request (fromNodeHeaders, the parsed body
 * re-serialised) and copies auth.handler's Response back. toNodeHandler would bypass Fastify's
 * routing and hooks, which the guide does not do.
 */
export function buildComparatorApp(deps: { auth: ComparatorAuth; sms: SmsProvider }): FastifyInstance {
  const { auth, sms } = deps;
  const app = Fastify({ logger: false });

  const forward = async (request: FastifyRequest, reply: FastifyReply, path: string) => {
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const response = await auth.handler(
      new Request(`${BASE_URL}${path}`, {
        method: request.method,
        headers: fromNodeHeaders(request.headers),
        ...(body !== undefined ? { body } : {}),
      }),
    );
    reply.status(response.status);
    // Headers iteration yields each Set-Cookie on its own; Fastify appends repeated set-cookie.
    response.headers.forEach((value, key) => {
      reply.header(key, value);
    });
    return reply.send(response.body ? await response.text() : null);
  };

  app.route({
    method: ['GET', 'POST'],
    url: '/api/auth/*',
    handler: (request, reply) => forward(request, reply, request.url),
  });
  // The protocol's short path for the plugin endpoint, served by the same better-auth handler.
  app.post('/wechat/login', (request, reply) => forward(request, reply, '/api/auth/wechat/login'));

  app.get('/__bench/bare', async () => ({ ok: true }));
  app.get('/__bench/cpu', async () => process.cpuUsage());
  app.get('/__bench/otp', async (request, reply) => {
    const { phone: raw } = request.query as { phone?: unknown };
    if (typeof raw !== 'string' || raw === '') return reply.status(400).send({ error: 'phone required' });
    // An unencoded "+86…" arrives as " 86…" (form decoding); accept it rather than miss the code.
    const phone = raw.startsWith(' ') ? `+${raw.slice(1)}` : raw;
    const code = await sms.lastCode(phone);
    if (code === undefined) return reply.status(404).send({ error: 'no code sent to this number' });
    return { code };
  });
  return app;
}
