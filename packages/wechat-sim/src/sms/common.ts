import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { RandomSource } from '../random.ts';
import { SimInputError } from '../validate.ts';
import type { SmsSimFault } from './types.ts';

/** Keeps the newest `max` entries; tests read them, long benchmarks must not grow without bound. */
export function createBoundedLog<T>(max: number) {
  let entries: T[] = [];
  return {
    add(entry: T): void {
      if (max <= 0) return;
      entries.push(entry);
      if (entries.length > max) entries = entries.slice(entries.length - max);
    },
    list: (): T[] => [...entries],
    clear(): void {
      entries = [];
    },
  };
}

/** Faults apply in injection order, one per request, each `times` times (0 or -1: until cleared). */
export function createSmsFaultQueue() {
  let active: { fault: SmsSimFault; remaining: number }[] = [];
  return {
    add(fault: SmsSimFault): void {
      const checked = checkFault(fault);
      const times = checked.times ?? 1;
      active.push({ fault: checked, remaining: times <= 0 ? Number.POSITIVE_INFINITY : times });
    },
    take(): SmsSimFault | undefined {
      const entry = active[0];
      if (!entry) return undefined;
      entry.remaining--;
      if (entry.remaining <= 0) active = active.slice(1);
      return entry.fault;
    },
    clear(): void {
      active = [];
    },
  };
}

function checkFault(fault: SmsSimFault): SmsSimFault {
  const { errorCode, errorMessage, status, delayMs, acceptThenStall, times } = fault;
  if (errorCode !== undefined && (typeof errorCode !== 'string' || errorCode === '')) {
    throw new SimInputError('errorCode must be a non-empty string');
  }
  if (errorMessage !== undefined && typeof errorMessage !== 'string') {
    throw new SimInputError('errorMessage must be a string');
  }
  if (status !== undefined && !(Number.isInteger(status) && status >= 400 && status <= 599)) {
    throw new SimInputError('status must be an integer in [400, 599]');
  }
  if (delayMs !== undefined && !(Number.isInteger(delayMs) && delayMs >= 0 && delayMs <= 600_000)) {
    throw new SimInputError('delayMs must be an integer in [0, 600000]');
  }
  if (times !== undefined && !(Number.isInteger(times) && times >= -1)) {
    throw new SimInputError('times must be an integer >= -1');
  }
  if (errorCode === undefined && status === undefined && delayMs === undefined && acceptThenStall !== true) {
    throw new SimInputError('a fault needs at least one of errorCode, status, delayMs, acceptThenStall');
  }
  return { ...fault };
}

/**
 * Per-key sliding windows over the times of admitted events ("30 秒内", "1 小时内"): `check` names the
 * first window that is full. Times older than the longest window are pruned, so memory stays bounded by
 * the keys active within a day.
 */
export function createSlidingLimiter(
  now: () => number,
  windows: readonly { name: string; ms: number; limit: number }[],
) {
  const times = new Map<string, number[]>();
  const longest = Math.max(0, ...windows.map((w) => w.ms));
  function recent(key: string): number[] {
    const cutoff = now() - longest;
    const kept = (times.get(key) ?? []).filter((t) => t > cutoff);
    if (kept.length === 0) times.delete(key);
    else times.set(key, kept);
    return kept;
  }
  return {
    check(key: string): { name: string; limit: number } | null {
      const list = recent(key);
      const at = now();
      for (const w of windows) {
        if (list.filter((t) => t > at - w.ms).length >= w.limit) return { name: w.name, limit: w.limit };
      }
      return null;
    },
    hit(key: string): void {
      times.set(key, [...recent(key), now()]);
    },
    clear: () => times.clear(),
  };
}

/** A v4-shaped UUID from the given random stream (upper case for Aliyun, lower for Tencent). */
export function uuid(random: RandomSource): string {
  const hex = random.hex(32).split('');
  hex[12] = '4';
  hex[16] = '89ab'[Number.parseInt(hex[16] ?? '0', 16) % 4] ?? '8';
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** n decimal digits from the random stream. */
export function digits(random: RandomSource, n: number): string {
  let out = '';
  while (out.length < n) out += String(random.bytes(4).readUInt32BE(0) % 10 ** 9).padStart(9, '0');
  return out.slice(0, n);
}

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
export const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data).digest();

/** Constant-time comparison of two hex signatures (different lengths simply fail). */
export function sameHex(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The single value of a request header ('' when absent; the first when repeated). */
export function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

export function sendBody(res: ServerResponse, status: number, contentType: string, text: string): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Mainland numbers in the forms both vendors accept (+86…, 0086…, 86…, or the bare 11 digits), or any
 * `+<country code><number>`. Returns E.164, or null when the vendor would call the number malformed.
 */
export function normalizeVendorPhone(raw: string, internationalWithoutPlus: boolean): string | null {
  const text = raw.trim();
  const mainland = /^(?:\+86|0086|86)?(1[3-9]\d{9})$/.exec(text);
  if (mainland) return `+86${mainland[1]}`;
  if (/^\+[1-9]\d{6,14}$/.test(text)) return text.startsWith('+86') ? null : text;
  if (internationalWithoutPlus) {
    const plain = /^(?:00)?([1-9]\d{6,14})$/.exec(text);
    if (plain && !plain[1]?.startsWith('86')) return `+${plain[1]}`;
  }
  return null;
}
