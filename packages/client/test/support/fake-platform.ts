import type { Platform, PlatformRequest, PlatformResponse } from '../../src/index.ts';

/**
 * An in-process platform for unit tests of behaviour the real server cannot easily be made to show
 * (a 401 that never goes away, a refresh that times out). End-to-end behaviour is tested against the
 * real server in packages/server/test/client/.
 */
export type Handler = (
  request: PlatformRequest,
  body: Record<string, unknown>,
) => PlatformResponse | Promise<PlatformResponse>;

export interface FakePlatform extends Platform {
  calls: { method: string; path: string; authorization: string | undefined }[];
  logins: number;
  store: Map<string, string>;
  route(method: string, path: string, handler: Handler): void;
  /** Requests to a path. */
  count(path: string): number;
}

export function createFakePlatform(): FakePlatform {
  const routes = new Map<string, Handler>();
  const store = new Map<string, string>();
  const platform: FakePlatform = {
    calls: [],
    logins: 0,
    store,
    route(method, path, handler) {
      routes.set(`${method} ${path}`, handler);
    },
    count: (path) => platform.calls.filter((c) => c.path === path).length,
    async login() {
      platform.logins++;
      return `code-${platform.logins}`;
    },
    async request(request) {
      const path = new URL(request.url).pathname;
      platform.calls.push({ method: request.method, path, authorization: request.header.authorization });
      await new Promise((resolve) => setTimeout(resolve, 1));
      const handler = routes.get(`${request.method} ${path}`);
      if (!handler)
        return json(404, { error: { code: 'not_found', message: 'No such resource.', requestId: 'r1' } });
      const body = typeof request.data === 'object' && request.data ? request.data : {};
      return handler(request, body);
    },
    storage: {
      get: (key) => store.get(key) ?? null,
      set: (key, value) => {
        store.set(key, value);
      },
      remove: (key) => {
        store.delete(key);
      },
    },
  };
  return platform;
}

export function json(
  statusCode: number,
  data: unknown,
  header: Record<string, string> = {},
): PlatformResponse {
  return { statusCode, data, header };
}

let serial = 0;
/** A token response like the server's, with fresh tokens each time. */
export function tokens(options: { userId?: string; expiresIn?: number; isNewUser?: boolean } = {}) {
  serial++;
  return {
    tokenType: 'Bearer',
    accessToken: `access-${serial}`,
    expiresIn: options.expiresIn ?? 900,
    refreshToken: `refresh-${serial}`,
    refreshExpiresIn: 2_592_000,
    user: {
      id: options.userId ?? 'u1',
      phone: null,
      wechat: [{ appId: 'wxapp', openid: 'o1', unionid: null }],
    },
    isNewUser: options.isNewUser ?? false,
  };
}

export const BASE_URL = 'https://auth.example.com';
