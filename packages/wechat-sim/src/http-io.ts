import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request with its body read, as every route sees it. */
export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Raw body text ('' when none). */
  body: string;
}

/** Bodies above this are answered without being buffered (WeChat's own limit is not published). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Resolves with the body, or null when it exceeds MAX_BODY_BYTES. */
export function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function parseRequest(req: IncomingMessage, body: string): SimRequest {
  const url = new URL(req.url ?? '/', 'http://sim.invalid');
  return { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body };
}

/** Writes a complete response unless the client already went away. */
export function send(res: ServerResponse, status: number, contentType: string | null, text: string): void {
  if (res.destroyed || res.writableEnded) return;
  const headers: Record<string, string | number> = { 'Content-Length': Buffer.byteLength(text) };
  if (contentType) headers['Content-Type'] = contentType;
  res.writeHead(status, headers);
  res.end(text);
}

/** WeChat's JSON content type as captured in production (wechat-api.md §0). */
export const WECHAT_JSON = 'application/json; charset=utf-8';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, WECHAT_JSON, JSON.stringify(body));
}

/**
 * Timers are unref'd: a delayed response must not keep a test process alive after the server closed.
 * `pending` lets close() cancel them.
 */
export function sleep(ms: number, pending: Set<NodeJS.Timeout>): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(timer);
      resolve();
    }, ms);
    timer.unref();
    pending.add(timer);
  });
}
