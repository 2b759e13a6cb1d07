import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Simulator } from '@wxauth/wechat-sim';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../errors.ts';

/**
 * Dev mode's playground: a web page that plays a mini program with the real client SDK, against this
 * server and its simulator. Mounted only in dev mode, like everything under /__dev.
 *
 *   GET  /playground            the page
 *   GET  /playground/app.js     the page's script (the "mini program")
 *   GET  /playground/sdk.js     @wxauth/client, bundled from source (ES2017, ESM), as the package builds it
 *   POST /playground/wx/*       the WeChat client's part (wx.login, the getPhoneNumber button,
 *                               wx.getWeRunData), played by the simulator; same-origin so the page
 *                               needs no CORS from the simulator
 */
const ASSETS = new URL('./', import.meta.url);
const OPENID = /^[A-Za-z0-9_-]{1,64}$/;
const PHONE = /^1\d{10}$/;

export function playgroundRoutes(options: { simulator: Simulator; appId: string }) {
  const { simulator, appId } = options;

  const asset = async (reply: FastifyReply, name: string, type: string) => {
    // Read per request: dev mode, so an edited page shows on reload.
    const body = await readFile(new URL(name, ASSETS), 'utf8');
    return reply.type(type).header('cache-control', 'no-store').send(body);
  };
  const openidOf = (body: unknown): string | undefined => {
    const openid = (body as { openid?: unknown } | null)?.openid;
    if (openid === undefined || openid === '') return undefined;
    if (typeof openid !== 'string' || !OPENID.test(openid))
      throw new AppError('invalid_request', { message: 'openid: letters, digits, _ and - only.' });
    return openid;
  };

  return async (app: FastifyInstance) => {
    const hide = { schema: { hide: true } };
    app.get('/playground', hide, (_req, reply) => asset(reply, 'index.html', 'text/html; charset=utf-8'));
    app.get('/playground/app.js', hide, (_req, reply) =>
      asset(reply, 'playground.js', 'text/javascript; charset=utf-8'),
    );
    app.get('/playground/style.css', hide, (_req, reply) =>
      asset(reply, 'playground.css', 'text/css; charset=utf-8'),
    );
    app.get('/playground/sdk.js', hide, async (_req, reply) => {
      // Bundled per request (esbuild takes milliseconds): an edit to the SDK shows on reload.
      const code = await bundleClient();
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-store').send(code);
    });

    // wx.login for a simulated user: a real code from the simulator. The session_key it also
    // issues stays out of the answer, as it stays out of every answer of this server.
    app.post('/playground/wx/login', hide, async (request) => {
      const openid = openidOf(request.body);
      const user = simulator.login({ appId, ...(openid ? { openid } : {}) });
      return { code: user.code, openid: user.openid, unionid: user.unionid };
    });

    // The getPhoneNumber button: a phone code for a mainland number.
    app.post('/playground/wx/phone-code', hide, async (request) => {
      const phone = (request.body as { phoneNumber?: unknown } | null)?.phoneNumber;
      if (typeof phone !== 'string' || !PHONE.test(phone))
        throw new AppError('invalid_request', { message: 'phoneNumber: 11 digits starting with 1.' });
      return simulator.phoneCode({ appId, phoneNumber: phone });
    });

    // wx.getWeRunData: step counts sealed with the user's current session_key.
    app.post('/playground/wx/werun', hide, async (request) => {
      const openid = openidOf(request.body);
      if (!openid) throw new AppError('invalid_request', { message: 'openid is required.' });
      const today = Math.floor(Date.now() / 86_400_000) * 86_400;
      const stepInfoList = [2, 1, 0].map((daysAgo) => ({
        timestamp: today - daysAgo * 86_400,
        step: 3000 + ((openid.length * 977 + daysAgo * 1319) % 9000),
      }));
      try {
        return simulator.encrypt({ appId, openid, data: { stepInfoList } });
      } catch {
        throw new AppError('invalid_request', { message: 'This user has no session_key: log in first.' });
      }
    });

    // A wx.login somewhere whose code never reached this server: WeChat replaced the user's
    // session_key, so data sealed from now on no longer opens with the key the server holds.
    app.post('/playground/wx/rotate-session-key', hide, async (request) => {
      const openid = openidOf(request.body);
      if (!openid) throw new AppError('invalid_request', { message: 'openid is required.' });
      simulator.login({ appId, openid, sessionKey: randomBytes(16).toString('base64') });
      return { rotated: true };
    });
  };
}

/** The SDK as the playground runs it: bundled from source by the package's own build settings. */
async function bundleClient(): Promise<string> {
  try {
    const { bundle } = await import('../../../../client/scripts/build.ts');
    return await bundle('esm');
  } catch (err) {
    throw new AppError('internal_error', {
      message: 'The playground could not bundle @wxauth/client (is esbuild installed? run npm install).',
      cause: err,
    });
  }
}
