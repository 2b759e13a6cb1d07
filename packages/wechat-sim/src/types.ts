import type { IncomingMessage, ServerResponse } from 'node:http';

/** A mini program known to the simulator. */
export interface SimAppConfig {
  appId: string;
  secret: string;
  /** Bound to a WeChat Open Platform account: code2Session then returns `unionid` (wechat-api.md §11). */
  unionBound?: boolean;
}

/** The WeChat endpoints the simulator serves. */
export type SimPath =
  | '/sns/jscode2session'
  | '/cgi-bin/token'
  | '/cgi-bin/stable_token'
  | '/wxa/checksession'
  | '/wxa/resetusersessionkey'
  | '/wxa/business/getuserphonenumber';

export const SIM_PATHS: readonly SimPath[] = [
  '/sns/jscode2session',
  '/cgi-bin/token',
  '/cgi-bin/stable_token',
  '/wxa/checksession',
  '/wxa/resetusersessionkey',
  '/wxa/business/getuserphonenumber',
];

/** A latency distribution: log-normal around `median` with the given `p99`, plus an optional uniform tail. */
export interface SimLatencyDistribution {
  median: number;
  p99: number;
  /** Probability (0..1) that a response instead takes a uniform time in `tailMs`. Default 0. */
  tailProbability?: number;
  /** Range of the tail in ms. Default [1000, 3000]. */
  tailMs?: [number, number];
}

export interface SimRateLimit {
  perMinute?: number;
  perSecond?: number;
}

export interface SimulatorOptions {
  apps?: SimAppConfig[];
  /** Makes codes, openids, keys, tokens, ivs, rids and latency deterministic. */
  seed?: number | string;
  /** Injected clock in ms (default Date.now); the control API adds an offset on top. */
  now?: () => number;
  /** Added to every WeChat endpoint response (never to /__sim). Default 0. */
  latencyMs?: number | SimLatencyDistribution;
  /** wx.login code lifetime. Default 300_000 (wechat-api.md §2: "有效期五分钟"). */
  codeTtlMs?: number;
  /** Minimum period between session_key replacements by wx.login. Default 300_000 (a guess, §10/§16). */
  sessionKeyMinRefreshMs?: number;
  /** A session_key expires after this long without a wx.login. Default 3 days (community figure, §14). */
  sessionKeyIdleTtlMs?: number;
  /** access_token lifetime in seconds. Default 7200 (§3). */
  accessTokenTtlSec?: number;
  /** App-wide limits per endpoint; above them the endpoint answers 45011. */
  rateLimits?: Partial<Record<SimPath, SimRateLimit>>;
  /** code2Session calls per user per minute before 45011. Default 100 (§2, older doc). */
  code2SessionPerUserPerMinute?: number;
  /** How many call records `calls()` keeps (the newest ones); counts stay exact. Default 10_000. */
  maxCallRecords?: number;
}

export interface SimLoginInput {
  appId: string;
  openid?: string;
  unionid?: string;
  sessionKey?: string;
  /** Marks (true) or clears (false) the user as high-risk: code2Session then answers 40226. */
  blocked?: boolean;
}

export interface SimLoginResult {
  code: string;
  openid: string;
  /** The user's unionid when the app is `unionBound`, else null (code2Session would not return it). */
  unionid: string | null;
  sessionKey: string;
}

export interface SimPhoneCodeInput {
  appId: string;
  /** The number without country code, digits only. */
  phoneNumber: string;
  /** Digits, default "86". */
  countryCode?: string;
  /** When set, getuserphonenumber checks a given `openid` against it. */
  openid?: string;
}

export interface SimEncryptInput {
  appId: string;
  openid: string;
  data: Record<string, unknown>;
}

export interface SimEncryptResult {
  encryptedData: string;
  iv: string;
  rawData: string;
  signature: string;
}

export interface SimFault {
  /** A SimPath, or '*' for every WeChat endpoint. */
  path: SimPath | string;
  errcode?: number;
  errmsg?: string;
  status?: number;
  body?: 'html' | 'empty' | 'truncated';
  delayMs?: number;
  /** Destroy the socket without a response. */
  reset?: boolean;
  /** How many calls the fault applies to. Default 1; 0 or -1 means until cleared. */
  times?: number;
}

export interface SimCallRecord {
  path: string;
  appId?: string;
  /** The errcode in the response body: 0 on success, null when the body carried none (fault, non-JSON). */
  errcode: number | null;
  /** HTTP status sent, or 0 when the socket was reset. */
  status: number;
  /** Sim clock (ms) when the call arrived. */
  at: number;
  /** Set when an injected fault produced the response. */
  fault?: 'errcode' | 'status' | 'body' | 'reset';
}

export interface Simulator {
  /** Base URL once listening, e.g. http://127.0.0.1:PORT; '' before. */
  readonly url: string;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  registerApp(app: SimAppConfig): void;
  login(input: SimLoginInput): SimLoginResult;
  phoneCode(input: SimPhoneCodeInput): { code: string };
  encrypt(input: SimEncryptInput): SimEncryptResult;
  injectFault(fault: SimFault): void;
  clearFaults(): void;
  calls(): SimCallRecord[];
  callCounts(): Record<string, number>;
  advanceClock(ms: number): void;
  expireSessionKey(appId: string, openid: string): void;
  currentSessionKey(appId: string, openid: string): string | null;
  allIssuedSessionKeys(): string[];
  reset(): void;
}
