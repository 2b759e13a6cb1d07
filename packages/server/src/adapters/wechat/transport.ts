import { Agent, type Dispatcher } from 'undici';
import { kindOfErrcode, parseRid, secondsToNextMinute, type WeChatApi, WeChatError } from './errcodes.ts';

/** One HTTP exchange with api.weixin.qq.com (or the simulator). */
export interface WeChatHttpRequest {
  api: WeChatApi;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  json?: Record<string, unknown>;
  signal: AbortSignal;
}

/** Bodies past this are not WeChat answers (theirs are a few hundred bytes): stop reading, bad_response. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * R3: connect timeout 1 s; keep-alive so a login does not pay a TLS handshake each time. Up to 512
 * connections: the session-key job alone keeps up to 256 calls in flight (1,000/s with 1 % of calls
 * taking seconds), and a request that waits for a connection inside undici has already been paced, so
 * such waits would release the job's calls in bunches (and, at 64, held it near 700 calls/s).
 */
export function createDefaultDispatcher(): Agent {
  return new Agent({ connect: { timeout: 1_000 }, keepAliveTimeout: 30_000, connections: 512 });
}

/**
 * Sends one request and returns the JSON object of a body whose errcode is 0 or absent. Everything
 * else throws a classified WeChatError: transport failures, non-200, non-JSON, errcode ≠ 0. The
 * caller still validates the success shape (responses.ts). Never logs or embeds the URL: it carries
 * the secret, the js_code or the access_token.
 */
export async function sendWeChatRequest(
  dispatcher: Dispatcher,
  baseUrl: URL,
  req: WeChatHttpRequest,
  now: () => number,
): Promise<Record<string, unknown>> {
  const { api, signal } = req;
  // req.path is absolute, so only the origin of baseUrl counts (as with new URL(path, base)).
  const search = req.query ? new URLSearchParams(req.query).toString() : '';
  let statusCode: number;
  let text: string;
  try {
    const response = await dispatcher.request({
      origin: baseUrl.origin,
      path: search ? `${req.path}?${search}` : req.path,
      method: req.method,
      headers: req.json ? { 'content-type': 'application/json; charset=utf-8' } : {},
      body: req.json ? JSON.stringify(req.json) : null,
      signal,
    });
    statusCode = response.statusCode;
    text = await readCapped(response.body);
  } catch (cause) {
    if (cause instanceof WeChatError) throw cause;
    throw new WeChatError({ api, kind: transportKind(cause, signal), cause: scrub(cause) });
  }
  if (statusCode >= 500) throw new WeChatError({ api, kind: 'http_5xx', httpStatus: statusCode });
  if (statusCode !== 200) throw new WeChatError({ api, kind: 'http_status', httpStatus: statusCode });
  const body = parseObject(text);
  if (body === null) throw new WeChatError({ api, kind: 'bad_response', httpStatus: statusCode });
  const { errcode } = body;
  if (errcode === undefined || errcode === 0) return body;
  if (typeof errcode !== 'number' || !Number.isSafeInteger(errcode)) {
    throw new WeChatError({ api, kind: 'bad_response', httpStatus: statusCode });
  }
  const kind = kindOfErrcode(errcode);
  throw new WeChatError({
    api,
    kind,
    errcode,
    rid: parseRid(body.errmsg),
    httpStatus: statusCode,
    // R4: 45011 means "retry next minute"; callers get the seconds to the boundary as Retry-After.
    ...(kind === 'minute_quota' ? { retryAfter: secondsToNextMinute(now()) } : {}),
  });
}

/**
 * The body as text, or '' past MAX_BODY_BYTES (the stream is destroyed, nothing more is read). Listeners
 * rather than `for await`: the async iterator cost about 3 KB of allocation per call, on every login.
 */
function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        body.destroy();
        resolve('');
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    body.once('error', reject);
    // Closed without 'end' or an error (a reset mid-body); after 'end' this reject does nothing.
    body.once('close', () => reject(new Error('response body closed before its end')));
  });
}

/** A JSON object, or null for empty, HTML, truncated JSON, arrays, scalars. */
function parseObject(text: string): Record<string, unknown> | null {
  if (text.trim() === '') return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_ABORTED']);
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

function transportKind(cause: unknown, signal: AbortSignal): 'timeout' | 'reset' | 'network' {
  // Our own deadline fired (AbortSignal.timeout): whatever undici reports, it is a timeout.
  if (signal.aborted) return 'timeout';
  const code = errorCode(cause);
  if (code && TIMEOUT_CODES.has(code)) return 'timeout';
  if (code && RESET_CODES.has(code)) return 'reset';
  // Refused, DNS, unreachable: nothing was sent, so it is as safe to retry as a reset.
  return 'network';
}

function errorCode(value: unknown): string | undefined {
  for (let current = value, depth = 0; current && depth < 4; depth++) {
    if (typeof current !== 'object') return undefined;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Keeps the error class and code for debugging, drops anything that might echo the request URL. */
function scrub(cause: unknown): Error {
  const code = errorCode(cause);
  const name = cause instanceof Error ? cause.name : 'Error';
  const error = new Error(`${name}${code ? ` ${code}` : ''}`);
  error.name = name;
  return error;
}
