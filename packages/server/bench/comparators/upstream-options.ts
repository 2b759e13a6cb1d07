/**
 * The comparators' undici settings for calls to the simulator: those of wxauth's WeChat transport
 * (src/adapters/wechat/transport.ts), so the upstream leg costs every side the same. The connection
 * count matters most: with 1 % of answers taking 1–3 s, 64 connections hold any client near 700
 * calls/s, which would cap a comparator rather than measure it.
 */
export const UPSTREAM_POOL_OPTIONS = {
  connections: 512,
  keepAliveTimeout: 30_000,
  connect: { timeout: 1_000 },
} as const;
