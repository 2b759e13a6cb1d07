import type { ServerResponse } from 'node:http';
import { parseFault } from './faults.ts';
import { type SimRequest, sendJson } from './http-io.ts';
import type { Simulator } from './types.ts';
import {
  type JsonObject,
  OPEN_ID,
  optionalBoolean,
  optionalString,
  requireObject,
  requireString,
  SimInputError,
} from './validate.ts';

type Control = Omit<Simulator, 'url' | 'listen' | 'close' | 'handler'>;
type Route = (sim: Control, body: JsonObject, req: SimRequest) => unknown;

/**
 * The control API (api.md "The WeChat simulator's control API"): it plays the WeChat client and the test
 * operator. Each route is a thin JSON adapter over the in-process method of the same name, so both
 * surfaces validate identically.
 */
const ROUTES: Record<string, Route> = {
  'POST /__sim/apps': (sim, body) => {
    const app = {
      appId: requireString(body, 'appId'),
      secret: requireString(body, 'secret'),
      unionBound: optionalBoolean(body, 'unionBound') ?? false,
    };
    sim.registerApp(app);
    return { appId: app.appId, unionBound: app.unionBound };
  },
  'POST /__sim/login': (sim, body) =>
    sim.login({
      appId: requireString(body, 'appId'),
      openid: optionalString(body, 'openid'),
      unionid: optionalString(body, 'unionid'),
      sessionKey: optionalString(body, 'sessionKey'),
      blocked: optionalBoolean(body, 'blocked'),
    }),
  'POST /__sim/phone-code': (sim, body) =>
    sim.phoneCode({
      appId: requireString(body, 'appId'),
      phoneNumber: requireString(body, 'phoneNumber'),
      countryCode: optionalCountryCode(body),
      openid: optionalString(body, 'openid'),
    }),
  'POST /__sim/encrypt': (sim, body) =>
    sim.encrypt({
      appId: requireString(body, 'appId'),
      openid: requireString(body, 'openid'),
      data: requireObject(body.data, 'data'),
    }),
  'POST /__sim/faults': (sim, body) => {
    sim.injectFault(parseFault(body));
    return { ok: true };
  },
  'DELETE /__sim/faults': (sim) => {
    sim.clearFaults();
    return { ok: true };
  },
  'GET /__sim/calls': (sim, _body, req) => {
    const path = req.query.get('path');
    const calls = sim.calls();
    return { counts: sim.callCounts(), calls: path ? calls.filter((call) => call.path === path) : calls };
  },
  'POST /__sim/clock': (sim, body) => {
    const advanceMs = body.advanceMs;
    if (typeof advanceMs !== 'number') throw new SimInputError('advanceMs must be a number');
    sim.advanceClock(advanceMs);
    return { ok: true };
  },
  'POST /__sim/expire-session-key': (sim, body) => {
    sim.expireSessionKey(requireString(body, 'appId'), requireString(body, 'openid', OPEN_ID));
    return { ok: true };
  },
  'GET /__sim/session-key': (sim, _body, req) => ({
    sessionKey: sim.currentSessionKey(req.query.get('appId') ?? '', req.query.get('openid') ?? ''),
  }),
  'GET /__sim/session-keys': (sim) => ({ sessionKeys: sim.allIssuedSessionKeys() }),
  'POST /__sim/reset': (sim) => {
    sim.reset();
    return { ok: true };
  },
};

/** countryCode may be sent as "852" or 852. */
function optionalCountryCode(body: JsonObject): string | undefined {
  const value = body.countryCode;
  return typeof value === 'number' ? String(value) : optionalString(body, 'countryCode');
}

const controlError = (res: ServerResponse, status: number, code: string, message: string) =>
  sendJson(res, status, { error: { code, message } });

export function handleControl(sim: Control, req: SimRequest, res: ServerResponse): void {
  const route = ROUTES[`${req.method} ${req.path}`];
  if (!route) {
    const known = Object.keys(ROUTES).some((key) => key.endsWith(` ${req.path}`));
    if (known) controlError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}`);
    else controlError(res, 404, 'not_found', `no control route ${req.path}`);
    return;
  }
  try {
    let body: unknown = {};
    if (req.body.trim() !== '') {
      try {
        body = JSON.parse(req.body);
      } catch {
        throw new SimInputError('body must be JSON');
      }
    }
    sendJson(res, 200, route(sim, requireObject(body), req));
  } catch (error) {
    if (error instanceof SimInputError) controlError(res, 400, error.code, error.message);
    else throw error;
  }
}
