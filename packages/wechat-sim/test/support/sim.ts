import { onTestFinished } from 'vitest';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/index.ts';

export const APP = { appId: 'wxapp1', secret: 'secret1' };
export const APP2 = { appId: 'wxapp2', secret: 'secret2' };
export const UNION_APP = { appId: 'wxunion', secret: 'secret3', unionBound: true };

export type Json = Record<string, unknown>;

export interface Harness {
  sim: Simulator;
  url: string;
  /** GET a WeChat endpoint with a query; the JSON body. */
  get(path: string, query?: Record<string, string>): Promise<Json>;
  /** POST raw text (or JSON of an object) to a path; the JSON body. */
  post(path: string, body: unknown, query?: Record<string, string>): Promise<Json>;
  /** Call the control API; status and JSON body. */
  control(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** wx.login through the control API, then the code. */
  loginCode(input?: Json): Promise<Json & { code: string; openid: string; sessionKey: string }>;
  code2Session(code: string, app?: { appId: string; secret: string }): Promise<Json>;
  token(app?: { appId: string; secret: string }): Promise<string>;
}

/** A fixed sim-clock origin on a minute boundary, so fixed-window quotas line up with advanceClock steps. */
export const BASE = 60_000 * 28_333_334;

/**
 * A listening simulator on port 0 with APP, APP2 and UNION_APP registered and a frozen clock at BASE
 * (time moves only through advanceClock); closed when the test finishes.
 */
export async function startHarness(options: SimulatorOptions = {}): Promise<Harness> {
  const sim = createSimulator({ apps: [APP, APP2, UNION_APP], now: () => BASE, ...options });
  onTestFinished(() => sim.close());
  const url = await sim.listen();
  const withQuery = (path: string, query: Record<string, string> = {}) =>
    `${url}${path}?${new URLSearchParams(query).toString()}`;
  const json = async (response: Response) => (await response.json()) as Json;
  const harness: Harness = {
    sim,
    url,
    get: async (path, query) => json(await fetch(withQuery(path, query))),
    post: async (path, body, query) =>
      json(
        await fetch(withQuery(path, query), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      ),
    async control(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return { status: response.status, body: await json(response) };
    },
    async loginCode(input = {}) {
      const { status, body } = await harness.control('POST', '/__sim/login', { appId: APP.appId, ...input });
      if (status !== 200) throw new Error(`login failed: ${JSON.stringify(body)}`);
      return body as Json & { code: string; openid: string; sessionKey: string };
    },
    code2Session: (code, app = APP) =>
      harness.get('/sns/jscode2session', {
        appid: app.appId,
        secret: app.secret,
        js_code: code,
        grant_type: 'authorization_code',
      }),
    async token(app = APP) {
      const body = await harness.get('/cgi-bin/token', {
        grant_type: 'client_credential',
        appid: app.appId,
        secret: app.secret,
      });
      if (typeof body.access_token !== 'string') throw new Error(`token failed: ${JSON.stringify(body)}`);
      return body.access_token;
    },
  };
  return harness;
}

/** WeChat error errmsgs end with a rid whose first group is the unix time in hex (§0). */
export const RID = /, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;
