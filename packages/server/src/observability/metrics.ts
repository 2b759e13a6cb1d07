import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per app instance (never the global one), so tests can build many apps in a process.
 * Label values are low-cardinality on purpose: never a user id, openid or code.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const wechatCalls = new Counter({
    name: 'wxauth_wechat_calls_total',
    help: 'Calls to the WeChat API by API name and outcome errcode (0 = ok, "timeout", "http_5xx", "bad_body", ...).',
    labelNames: ['api', 'errcode'] as const,
    registers: [registry],
  });
  const wechatLatency = new Histogram({
    name: 'wxauth_wechat_call_seconds',
    help: 'Latency of calls to the WeChat API.',
    labelNames: ['api'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
    registers: [registry],
  });
  const wechatBreakerOpen = new Gauge({
    name: 'wxauth_wechat_breaker_open',
    help: '1 while the circuit breaker toward the WeChat API is open.',
    labelNames: ['app_id'] as const,
    registers: [registry],
  });
  const accessTokenRefreshes = new Counter({
    name: 'wxauth_wechat_access_token_refreshes_total',
    help: 'Access token fetches from WeChat by mode (normal, force) and outcome.',
    labelNames: ['mode', 'outcome'] as const,
    registers: [registry],
  });
  const accessTokenOverwrites = new Counter({
    name: 'wxauth_wechat_access_token_overwritten_total',
    help: 'Signs that another service refreshed this app’s access token (a 40001 right after our own refresh).',
    labelNames: ['app_id'] as const,
    registers: [registry],
  });
  const httpRequests = new Counter({
    name: 'wxauth_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'wxauth_http_request_seconds',
    help: 'HTTP request duration by route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
    registers: [registry],
  });
  const authEvents = new Counter({
    name: 'wxauth_auth_events_total',
    help: 'Auth events by type and outcome (login, refresh, reuse_detected, logout, ...).',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });

  const decryptFailures = new Counter({
    name: 'wxauth_decrypt_failures_total',
    help: 'POST /v1/wechat/decrypt failures by reason (key_stale, key_rejected, data_invalid, wrong_app, ...).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const jobRuns = new Counter({
    name: 'wxauth_job_runs_total',
    help: 'Job runs a worker of this instance took part in, by job and the run status when it left.',
    labelNames: ['job', 'status'] as const,
    registers: [registry],
  });
  const jobRows = new Counter({
    name: 'wxauth_job_rows_total',
    help: 'Rows processed by jobs, by outcome (valid, stale, reset, unreadable, error).',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });
  const jobQuotaBackoffs = new Counter({
    name: 'wxauth_job_quota_backoffs_total',
    help: 'WeChat minute-quota answers (45011) that made a job wait for the next minute.',
    labelNames: ['job'] as const,
    registers: [registry],
  });
  const jobRate = new Gauge({
    name: 'wxauth_job_rate',
    help: 'WeChat calls per second this instance currently allows a job per app (its share of the configured rate).',
    labelNames: ['job', 'app_id'] as const,
    registers: [registry],
  });
  const jobLastSuccess = new Gauge({
    name: 'wxauth_job_last_success_timestamp_seconds',
    help: 'Unix time at which a run of the job last completed on this instance.',
    labelNames: ['job'] as const,
    registers: [registry],
  });

  // Label children per (method, route, status), so a request costs two increments instead of two label
  // hashings (prom-client sorts and joins the labels on every inc/observe). Bounded: routes are patterns.
  const httpChildren = new Map<string, { count: () => void; seconds: (value: number) => void }>();
  function observeHttp(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let child = httpChildren.get(key);
    if (child === undefined) {
      const count = httpRequests.labels(method, route, String(status));
      const duration = httpDuration.labels(method, route);
      child = { count: () => count.inc(), seconds: (value) => duration.observe(value) };
      httpChildren.set(key, child);
    }
    child.count();
    child.seconds(seconds);
  }

  return {
    registry,
    observeHttp,
    wechatCalls,
    wechatLatency,
    wechatBreakerOpen,
    accessTokenRefreshes,
    accessTokenOverwrites,
    httpRequests,
    httpDuration,
    authEvents,
    decryptFailures,
    jobRuns,
    jobRows,
    jobQuotaBackoffs,
    jobRate,
    jobLastSuccess,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
