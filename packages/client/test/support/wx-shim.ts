import { createMemoryStorage, type MemoryStorage } from './memory-storage.ts';

/**
 * A `wx` runtime for tests, faithful where the SDK's correctness depends on it:
 * - `wx.login` mints a real code through the simulator's control API (`POST /__sim/login`), for
 *   the shim's user (`openid`), so the server's code2Session sees a genuine code;
 * - `wx.request` performs real HTTP and calls `success` for ANY status that arrived (WeChat's rule,
 *   wechat-api.md §13.4), `fail` only when no response did; at most 10 run at once, and an 11th fails
 *   at once with `request:fail exceed max task count`, the strict reading of the limit;
 * - storage is in memory with WeChat's limits (1 MB a key, 10 MB in all).
 * Everything is counted, so tests can assert "one wx.login", "one refresh", "never more than 10".
 */
export const MAX_CONCURRENT_REQUESTS = 10;

export interface RecordedRequest {
  method: string;
  path: string;
  status: number | null;
  authorization: string | undefined;
}

interface RequestOption {
  url: string;
  method?: string;
  data?: unknown;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: string;
  responseType?: string;
  success?: (result: {
    data: unknown;
    statusCode: number;
    header: Record<string, string>;
    cookies: string[];
    errMsg: string;
  }) => void;
  fail?: (error: { errMsg: string; errno?: number }) => void;
  complete?: () => void;
}

interface LoginOption {
  timeout?: number;
  success?: (result: { code: string; errMsg: string }) => void;
  fail?: (error: { errMsg: string; errno?: number }) => void;
  complete?: () => void;
}

export interface WxShim extends MemoryStorage {
  login(option: LoginOption): void;
  request(option: RequestOption): { abort(): void };
  /** Counters and records. */
  stats: {
    logins: number;
    requests: RecordedRequest[];
    peakConcurrent: number;
    rejectedOverLimit: number;
  };
  /** Requests to a path (method optional), for "exactly one refresh" assertions. */
  count(path: string, method?: string): number;
  resetStats(): void;
  /** The simulated WeChat user behind `wx.login`. */
  openid: string;
  /** Make every request fail as if the phone were offline. */
  offline: boolean;
  /** Make wx.login fail (e.g. the user is not logged in to WeChat). */
  loginFails: boolean;
}

export function createWxShim(options: {
  simulatorUrl: string;
  appId: string;
  openid?: string;
  /** Share storage between shims to play "the same phone, app restarted". */
  storage?: MemoryStorage;
}): WxShim {
  const storage = options.storage ?? createMemoryStorage();
  let active = 0;
  const shim: WxShim = {
    ...storage,
    openid: options.openid ?? `o_${Math.random().toString(36).slice(2, 14)}`,
    offline: false,
    loginFails: false,
    stats: { logins: 0, requests: [], peakConcurrent: 0, rejectedOverLimit: 0 },
    count: (path, method) =>
      shim.stats.requests.filter((r) => r.path === path && (!method || r.method === method)).length,
    resetStats() {
      shim.stats = { logins: 0, requests: [], peakConcurrent: 0, rejectedOverLimit: 0 };
    },

    login(option) {
      shim.stats.logins++;
      const done = (fn: () => void) => {
        fn();
        option.complete?.();
      };
      if (shim.loginFails) {
        setTimeout(() => done(() => option.fail?.({ errMsg: 'login:fail', errno: 1 })), 0);
        return;
      }
      fetch(`${options.simulatorUrl}/__sim/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ appId: options.appId, openid: shim.openid }),
      })
        .then(async (res) => {
          const body = (await res.json()) as { code?: string };
          if (!res.ok || typeof body.code !== 'string') throw new Error(`sim login ${res.status}`);
          done(() => option.success?.({ code: body.code as string, errMsg: 'login:ok' }));
        })
        .catch((error: unknown) =>
          done(() => option.fail?.({ errMsg: `login:fail ${(error as Error).message}` })),
        );
    },

    request(option) {
      const controller = new AbortController();
      const method = (option.method ?? 'GET').toUpperCase();
      const url = new URL(option.url);
      const header = { ...option.header };
      const record: RecordedRequest = {
        method,
        path: url.pathname,
        status: null,
        authorization: header.authorization ?? header.Authorization,
      };
      shim.stats.requests.push(record);
      const finish = (fn: () => void) => {
        fn();
        option.complete?.();
      };
      if (active >= MAX_CONCURRENT_REQUESTS) {
        shim.stats.rejectedOverLimit++;
        queueMicrotask(() => finish(() => option.fail?.({ errMsg: 'request:fail exceed max task count' })));
        return { abort: () => {} };
      }
      active++;
      shim.stats.peakConcurrent = Math.max(shim.stats.peakConcurrent, active);
      // wx.request's default content-type is application/json, for every method (§13.4).
      if (!Object.keys(header).some((k) => k.toLowerCase() === 'content-type'))
        header['content-type'] = 'application/json';
      let body: string | undefined;
      if (method === 'GET' || method === 'HEAD') {
        // wx.request turns `data` into the query string for GET (§13.4 "Data conversion").
        if (option.data && typeof option.data === 'object') {
          for (const [k, v] of Object.entries(option.data)) url.searchParams.set(k, String(v));
        }
      } else if (option.data !== undefined) {
        body = typeof option.data === 'string' ? option.data : JSON.stringify(option.data);
      }
      const timer = setTimeout(() => controller.abort(), option.timeout ?? 60_000);
      const run = async () => {
        if (shim.offline) throw new Error('net::ERR_INTERNET_DISCONNECTED');
        const res = await fetch(url, { method, headers: header, body, signal: controller.signal });
        const text = await res.text();
        let data: unknown = text;
        if ((option.dataType ?? 'json') === 'json') {
          try {
            data = JSON.parse(text);
          } catch {
            data = text;
          }
        }
        const responseHeader: Record<string, string> = {};
        res.headers.forEach((value, name) => {
          responseHeader[name] = value;
        });
        return { data, statusCode: res.status, header: responseHeader };
      };
      // The slot is free before the callback runs, as on WeChat: a request started from inside a
      // callback must not count the one that just finished.
      const release = () => {
        clearTimeout(timer);
        active--;
      };
      run().then(
        (result) => {
          release();
          record.status = result.statusCode;
          // Any status that arrived is a "success" in WeChat's sense.
          finish(() => option.success?.({ ...result, cookies: [], errMsg: 'request:ok' }));
        },
        (error: unknown) => {
          release();
          const aborted = controller.signal.aborted;
          finish(() =>
            option.fail?.({
              errMsg: aborted ? 'request:fail timeout' : `request:fail ${(error as Error).message}`,
            }),
          );
        },
      );
      return { abort: () => controller.abort() };
    },
  };
  return shim;
}
