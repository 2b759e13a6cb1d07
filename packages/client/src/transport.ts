import { WxAuthError } from './errors.ts';
import type { Platform, PlatformResponse } from './platform.ts';
import { isRecord } from './storage.ts';
import type { ApiResponse, HttpMethod } from './types.ts';

export interface Call {
  url: string;
  method?: HttpMethod;
  data?: Record<string, unknown> | string;
  header?: Record<string, string>;
  /** Sent as `Authorization: Bearer …`, and only to the configured server. */
  token?: string;
  timeout?: number;
}

export interface Transport {
  /** Any response that arrived (status unchecked); rejects with `network_error` when none did. */
  send(call: Call): Promise<PlatformResponse>;
  /** The server's URL for a path, or the URL as given when absolute. */
  resolve(url: string): string;
  /** Whether a URL points at the configured server (the only place a bearer token may go). */
  isOwn(url: string): boolean;
}

/**
 * Sends requests through the platform with at most `maxConcurrent` in flight: WeChat allows 10
 * concurrent `wx.request`s (wechat-api.md §13.4) and fails or stalls the rest, so the SDK queues its
 * own instead of racing the limit.
 */
export function createTransport(options: {
  platform: Platform;
  baseURL: string;
  maxConcurrent: number;
  timeout: number | undefined;
}): Transport {
  const base = options.baseURL.replace(/\/+$/, '');
  const limit = createLimiter(options.maxConcurrent);
  const resolve = (url: string) =>
    /^https?:\/\//i.test(url) ? url : `${base}${url[0] === '/' ? '' : '/'}${url}`;
  const isOwn = (url: string) => {
    const full = resolve(url);
    return full === base || full.indexOf(`${base}/`) === 0 || full.indexOf(`${base}?`) === 0;
  };
  return {
    resolve,
    isOwn,
    send(call) {
      const method = call.method ?? 'GET';
      const header: Record<string, string> = { ...call.header };
      const hasBody = method !== 'GET' && method !== 'HEAD';
      if (hasBody && !hasHeader(header, 'content-type')) header['content-type'] = 'application/json';
      // wx.request labels every request application/json, body or not, and a JSON server refuses an
      // empty JSON body (Fastify: "The JSON body is empty"); `{}` is what a body-less call means.
      const data = call.data === undefined && hasBody ? {} : call.data;
      const url = resolve(call.url);
      if (call.token !== undefined && isOwn(url)) header.authorization = `Bearer ${call.token}`;
      const timeout = call.timeout ?? options.timeout;
      return limit(() =>
        options.platform.request({
          url,
          method,
          header,
          ...(data !== undefined ? { data } : {}),
          ...(timeout !== undefined ? { timeout } : {}),
        }),
      );
    },
  };
}

/**
 * Checks a response: 2xx gives an `ApiResponse`; anything else throws a `WxAuthError` carrying the
 * server's `code`, `requestId` and `Retry-After`.
 */
export function checked<T>(response: PlatformResponse): ApiResponse<T> {
  if (response.statusCode >= 200 && response.statusCode < 300) {
    return { statusCode: response.statusCode, data: response.data as T, header: response.header };
  }
  throw errorFromResponse(response);
}

export function errorFromResponse(response: PlatformResponse): WxAuthError {
  const retry = Number(response.header['retry-after']);
  const retryAfter = Number.isFinite(retry) && retry >= 0 ? retry : undefined;
  const body = typeof response.data === 'string' ? tryParse(response.data) : response.data;
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  if (error && typeof error.code === 'string') {
    return new WxAuthError(
      error.code,
      typeof error.message === 'string' ? error.message : `The server answered ${response.statusCode}.`,
      {
        status: response.statusCode,
        ...(typeof error.requestId === 'string' ? { requestId: error.requestId } : {}),
        ...(retryAfter !== undefined ? { retryAfter } : {}),
      },
    );
  }
  const requestId = response.header['x-request-id'];
  return new WxAuthError('http_error', `The server answered ${response.statusCode}.`, {
    status: response.statusCode,
    ...(requestId ? { requestId } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function hasHeader(header: Record<string, string>, name: string): boolean {
  return Object.keys(header).some((key) => key.toLowerCase() === name);
}

/** Runs at most `max` tasks at once, the rest in arrival order. */
export function createLimiter(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const next = () => {
    running--;
    waiting.shift()?.();
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const start = () => {
        running++;
        let result: Promise<T>;
        try {
          result = task();
        } catch (error) {
          result = Promise.reject(error);
        }
        result.then(
          (value) => {
            next();
            resolve(value);
          },
          (error: unknown) => {
            next();
            reject(error);
          },
        );
      };
      if (running < max) start();
      else waiting.push(start);
    });
}
