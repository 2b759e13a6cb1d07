import autocannon from 'autocannon';
import { Pool } from 'undici';
import { collectGarbage } from './harness-gc.ts';
import { cpuMicros } from './http.ts';
import { percentileSorted } from './stats.ts';

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * State shared by one request's setup and its response. (autocannon resets the context before each
 * request when, as here, the request list has one entry, so it does not carry over to the next one.)
 */
export type ConnContext = Record<string, unknown>;

export interface PhaseResult {
  /** 2xx responses: errors are never counted as throughput. */
  ok: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** CPU µs of the system under test per 2xx response; null when nobody was charged. */
  cpuPerOp: number | null;
  /** Connection errors, timeouts and non-2xx responses. */
  errors: number;
  /** What the errors were, e.g. "401×12 timeout×1", for the progress log. */
  errorDetail?: string;
  /** Scenario-specific figures of this phase (e.g. S1's per-request overhead percentiles). */
  extra?: Record<string, number>;
}

export interface ClosedLoopSpec {
  origin: string;
  connections: number;
  next: (ctx: ConnContext) => RequestSpec;
  onResponse?: (status: number, body: string, ctx: ConnContext) => void;
  /** A 2xx whose body fails this is not a success (e.g. getSession answering 200 null). */
  verifyBody?: (body: string) => boolean;
  /** The child whose CPU is charged to the phase. */
  cpuUrl?: string;
}

export const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Closed loop (autocannon, -p 1, fixed connections): the throughput ceiling. Either for a duration,
 * or for an exact number of requests (pools of single-use inputs) with a time cap.
 */
export async function closedLoop(
  spec: ClosedLoopSpec,
  bound: { durationSec: number } | { amount: number; maxSec: number },
): Promise<PhaseResult> {
  collectGarbage();
  const before = spec.cpuUrl ? await cpuMicros(spec.cpuUrl) : 0;
  const options: autocannon.Options = {
    url: spec.origin,
    connections: spec.connections,
    pipelining: 1,
    timeout: 10,
    ...(spec.verifyBody ? { verifyBody: (body: unknown) => spec.verifyBody!(String(body)) } : {}),
    ...('amount' in bound ? { amount: bound.amount } : { duration: bound.durationSec }),
    requests: [
      {
        setupRequest: (req, context) => {
          const next = spec.next(context as ConnContext);
          return { ...req, ...next, headers: { ...req.headers, ...next.headers } };
        },
        ...(spec.onResponse
          ? {
              onResponse: (status: number, body: string, context: object) =>
                spec.onResponse!(status, body, context as ConnContext),
            }
          : {}),
      },
    ],
  };
  // autocannon ends by itself; the backstop is for a server that stops answering altogether.
  const capSec = 'amount' in bound ? bound.maxSec : bound.durationSec + 30;
  let backstop: NodeJS.Timeout | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    backstop = setTimeout(() => instance.stop(), capSec * 1000);
  }).finally(() => clearTimeout(backstop));
  const after = spec.cpuUrl ? await cpuMicros(spec.cpuUrl) : 0;
  // A mismatch is a 2xx whose body verifyBody refused.
  const ok = result['2xx'] - result.mismatches;
  const detail = [
    ...Object.entries(result.statusCodeStats ?? {})
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, s]) => `${code}×${s.count ?? 0}`),
    ...(result.mismatches ? [`bad-body×${result.mismatches}`] : []),
    ...(result.timeouts ? [`timeout×${result.timeouts}`] : []),
    ...(result.errors > result.timeouts ? [`conn-error×${result.errors - result.timeouts}`] : []),
  ].join(' ');
  return {
    ok,
    seconds: result.duration,
    rps: result.duration > 0 ? ok / result.duration : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPerOp: spec.cpuUrl && ok > 0 ? (after - before) / ok : null,
    errors: result.errors + result.non2xx + result.mismatches,
    ...(detail ? { errorDetail: detail } : {}),
  };
}

export interface OpenLoopSpec {
  origin: string;
  /** Requests per second, evenly spaced. */
  rate: number;
  durationSec: number;
  next: (i: number) => RequestSpec;
  /** Ends the phase early (S6 runs until the job is done); durationSec stays the upper bound. */
  until?: Promise<unknown>;
  /** Sees every answer with its latency and request index (S3 hands rotated tokens back). */
  onResponse?: (status: number, body: string, latencyMs: number, i: number) => void;
  cpuUrl?: string;
}

export interface OpenLoopResult extends PhaseResult {
  offered: number;
  /** Sends skipped because too many requests were already in flight (the server fell behind). */
  dropped: number;
}

const MAX_IN_FLIGHT = 4_000;
/** Longer than the simulator's slowest answer (3 s) plus a saturated server's queue. */
const STRAGGLER_MS = 15_000;

/**
 * Open loop at a fixed rate. autocannon's -R is a per-connection cap per second (each connection
 * bursts until its quota is used, then idles), which makes the load bursty at exactly the moments a
 * latency goal cares about; so arrivals are scheduled here at even spacing, and each latency is
 * measured from the request's *scheduled* send time, so a stalled server cannot hide its queue
 * (no coordinated omission). Percentiles are exact (every sample kept; count = rate × duration).
 */
export async function openLoop(spec: OpenLoopSpec): Promise<OpenLoopResult> {
  const pool = new Pool(spec.origin, { connections: 512, pipelining: 1, keepAliveTimeout: 30_000 });
  const total = Math.max(1, Math.round(spec.rate * spec.durationSec));
  const latencies = new Float64Array(total);
  let recorded = 0;
  let ok = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  let stopped = false;
  void spec.until?.then(
    () => (stopped = true),
    () => (stopped = true),
  );
  collectGarbage();
  const before = spec.cpuUrl ? await cpuMicros(spec.cpuUrl) : 0;
  const intervalMs = 1000 / spec.rate;
  const start = performance.now();
  const pending = new Set<Promise<void>>();

  const send = (i: number, scheduled: number) => {
    const req = spec.next(i);
    inFlight++;
    const done = pool
      .request({
        method: req.method,
        path: req.path,
        headers: req.headers ?? {},
        body: req.body ?? null,
        headersTimeout: STRAGGLER_MS,
        bodyTimeout: STRAGGLER_MS,
      })
      .then(async (res) => {
        const text = await res.body.text();
        const latency = performance.now() - scheduled;
        spec.onResponse?.(res.statusCode, text, latency, i);
        if (res.statusCode >= 200 && res.statusCode < 300) {
          ok++;
          latencies[recorded++] = latency;
        } else errors++;
      })
      .catch(() => {
        errors++;
      })
      .finally(() => {
        inFlight--;
        pending.delete(done);
      });
    pending.add(done);
  };

  let sent = 0;
  let sendingMs = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      for (; sent < due && !stopped; sent++) {
        if (inFlight >= MAX_IN_FLIGHT) dropped++;
        else send(sent, start + sent * intervalMs);
      }
      if (sent >= total || stopped) {
        sendingMs = performance.now() - start;
        resolve();
      } else setTimeout(tick, Math.max(0, Math.min(5, start + sent * intervalMs - performance.now())));
    };
    tick();
  });
  // Stragglers get the request timeout, no more (the race is a backstop for a wedged socket).
  let backstop: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...pending]),
    new Promise((resolve) => {
      backstop = setTimeout(resolve, STRAGGLER_MS + 5_000);
    }),
  ]);
  clearTimeout(backstop);
  // Throughput over the sending window: stragglers (the 1–3 s upstream tail) finish after it.
  const seconds = Math.max(sendingMs, intervalMs) / 1000;
  const after = spec.cpuUrl ? await cpuMicros(spec.cpuUrl) : 0;
  await pool.destroy();
  const sorted = latencies.subarray(0, recorded).sort();
  return {
    offered: spec.rate,
    ok,
    seconds,
    rps: ok / seconds,
    p50: percentileSorted(sorted, 50),
    p99: percentileSorted(sorted, 99),
    cpuPerOp: spec.cpuUrl && ok > 0 ? (after - before) / ok : null,
    errors: errors + dropped,
    ...(errors + dropped > 0
      ? { errorDetail: `failed×${errors}${dropped ? ` dropped×${dropped}` : ''}` }
      : {}),
    dropped,
  };
}
