import { createHash } from 'node:crypto';
import type { SimClock } from './clock.ts';
import { type CodeRecord, createCodeStore } from './codes.ts';
import { encryptOpenData, rawDataSignature } from './crypto.ts';
import type { RandomSource } from './random.ts';
import type {
  SimAppConfig,
  SimEncryptInput,
  SimEncryptResult,
  SimLoginInput,
  SimLoginResult,
  SimPhoneCodeInput,
} from './types.ts';
import { APP_ID, isObject, OPEN_ID, SESSION_KEY, SimInputError } from './validate.ts';

/** One user of one mini program, as WeChat's back end would hold it. */
export interface SimUser {
  appId: string;
  openid: string;
  /** Always assigned (one per person); code2Session returns it only for union-bound apps (§11). */
  unionid: string;
  sessionKey: string;
  /** When the current key was issued or replaced: drives the minimum refresh period (§10). */
  keySetAt: number;
  /** Renewed by each wx.login; a reset keeps it (§6 "继承原有的 session_key 的过期时间"). */
  keyExpiresAt: number;
  /** High-risk user: code2Session answers 40226 (§2). */
  blocked: boolean;
}

export interface LoginCode extends CodeRecord {
  openid: string;
}

export interface PhoneCode extends CodeRecord {
  openid: string | undefined;
  phoneNumber: string;
  countryCode: string;
  /** Seconds; the phone_info watermark timestamp is the time of the user's action (§7.1). */
  timestamp: number;
}

export interface WorldConfig {
  codeTtlMs: number;
  sessionKeyMinRefreshMs: number;
  sessionKeyIdleTtlMs: number;
}

/** getPhoneNumber codes live 5 minutes (§7.1 "code的有效期为5min"); not configurable, unlike login codes. */
const PHONE_CODE_TTL_MS = 5 * 60_000;

export type World = ReturnType<typeof createWorld>;

export function createWorld(clock: SimClock, ids: RandomSource, ivs: RandomSource, config: WorldConfig) {
  const apps = new Map<string, SimAppConfig>();
  const users = new Map<string, SimUser>();
  /** (appId, unionid) → openid: the same person logging in again to the same app keeps one openid. */
  const openidByUnion = new Map<string, string>();
  const issuedKeys = new Set<string>();
  const loginCodes = createCodeStore<LoginCode>(clock.now);
  const phoneCodes = createCodeStore<PhoneCode>(clock.now);

  const userKey = (appId: string, openid: string) => `${appId}\n${openid}`;

  function requireApp(appId: string): SimAppConfig {
    const app = apps.get(appId);
    if (!app) throw new SimInputError(`unknown appId ${appId}; register it first`);
    return app;
  }

  function setKey(user: SimUser, key: string, now: number): void {
    user.sessionKey = key;
    user.keySetAt = now;
    issuedKeys.add(key);
  }

  const newSessionKey = () => ids.bytes(16).toString('base64');

  /** Real openids share a per-app prefix (e.g. `oGZUI0…`); the sim derives it from the appId. */
  const newOpenid = (appId: string) =>
    `o${createHash('sha256').update(appId).digest('base64url').slice(0, 5)}${ids.urlSafe(22)}`;

  function findOrCreateUser(input: SimLoginInput, now: number): SimUser {
    const { appId } = input;
    const byUnion = input.unionid ? openidByUnion.get(userKey(appId, input.unionid)) : undefined;
    if (input.openid && byUnion && byUnion !== input.openid) {
      throw new SimInputError(`unionid ${input.unionid} already belongs to openid ${byUnion} in ${appId}`);
    }
    const openid = input.openid ?? byUnion ?? newOpenid(appId);
    const existing = users.get(userKey(appId, openid));
    if (existing) {
      if (input.unionid && input.unionid !== existing.unionid) {
        throw new SimInputError(`openid ${openid} already has another unionid`);
      }
      return existing;
    }
    const user: SimUser = {
      appId,
      openid,
      unionid: input.unionid ?? `o${ids.urlSafe(27)}`,
      sessionKey: '',
      keySetAt: now,
      keyExpiresAt: now,
      blocked: false,
    };
    users.set(userKey(appId, openid), user);
    openidByUnion.set(userKey(appId, user.unionid), openid);
    return user;
  }

  function liveKey(user: SimUser | undefined, now: number): string | null {
    return user && user.sessionKey !== '' && now < user.keyExpiresAt ? user.sessionKey : null;
  }

  return {
    registerApp(app: SimAppConfig): void {
      if (typeof app.appId !== 'string' || !APP_ID.test(app.appId)) throw new SimInputError('invalid appId');
      if (typeof app.secret !== 'string' || app.secret === '') throw new SimInputError('invalid secret');
      apps.set(app.appId, { appId: app.appId, secret: app.secret, unionBound: app.unionBound === true });
    },
    app: (appId: string) => apps.get(appId),
    user: (appId: string, openid: string) => users.get(userKey(appId, openid)),
    loginCodes,
    phoneCodes,

    /** What wx.login does on the phone: maybe refresh the session_key, then issue a code (§10). */
    login(input: SimLoginInput): SimLoginResult {
      const app = requireApp(input.appId);
      if (input.openid !== undefined && !OPEN_ID.test(input.openid))
        throw new SimInputError('invalid openid');
      if (input.unionid !== undefined && !OPEN_ID.test(input.unionid))
        throw new SimInputError('invalid unionid');
      if (input.sessionKey !== undefined && !SESSION_KEY.test(input.sessionKey)) {
        throw new SimInputError('sessionKey must be base64 of 16 bytes (24 chars)');
      }
      const now = clock.now();
      const user = findOrCreateUser(input, now);
      if (input.blocked !== undefined) user.blocked = input.blocked;
      if (input.sessionKey !== undefined) {
        setKey(user, input.sessionKey, now);
      } else if (liveKey(user, now) === null || now - user.keySetAt >= config.sessionKeyMinRefreshMs) {
        // §10: "刷新机制存在最短周期…并非每次调用都导致 session_key 刷新": within the minimum period a
        // repeated wx.login keeps the key; after it, the key is replaced and the old one stops working.
        setKey(user, newSessionKey(), now);
      }
      // §10: "用户越频繁使用小程序，session_key 有效期越长": each use renews the idle expiry.
      user.keyExpiresAt = now + config.sessionKeyIdleTtlMs;
      const code = ids.alnum(32);
      loginCodes.add(code, {
        appId: app.appId,
        openid: user.openid,
        expiresAt: now + config.codeTtlMs,
        used: false,
      });
      return {
        code,
        openid: user.openid,
        unionid: app.unionBound ? user.unionid : null,
        sessionKey: user.sessionKey,
      };
    },

    phoneCode(input: SimPhoneCodeInput): { code: string } {
      const app = requireApp(input.appId);
      if (typeof input.phoneNumber !== 'string' || !/^\d{4,15}$/.test(input.phoneNumber)) {
        throw new SimInputError('phoneNumber must be 4-15 digits, without the country code');
      }
      const countryCode = input.countryCode ?? '86';
      if (!/^\d{1,4}$/.test(countryCode)) throw new SimInputError('countryCode must be 1-4 digits');
      if (input.openid !== undefined && !OPEN_ID.test(input.openid))
        throw new SimInputError('invalid openid');
      const now = clock.now();
      // The request example in §7.1 shows a 64-hex-char code.
      const code = ids.hex(64);
      phoneCodes.add(code, {
        appId: app.appId,
        openid: input.openid,
        phoneNumber: input.phoneNumber,
        countryCode,
        timestamp: Math.floor(now / 1000),
        expiresAt: now + PHONE_CODE_TTL_MS,
        used: false,
      });
      return { code };
    },

    /** What wx.getUserInfo-style APIs return: data sealed with the user's current session_key (§8, §9). */
    encrypt(input: SimEncryptInput): SimEncryptResult {
      const app = requireApp(input.appId);
      const now = clock.now();
      const key = liveKey(users.get(userKey(app.appId, input.openid)), now);
      if (key === null) throw new SimInputError('the user has no valid session_key; log in first');
      if (!isObject(input.data)) throw new SimInputError('data must be a JSON object');
      const { watermark: _ignored, ...fields } = input.data;
      const rawData = JSON.stringify(fields);
      const sealed = JSON.stringify({
        ...fields,
        watermark: { appid: app.appId, timestamp: Math.floor(now / 1000) },
      });
      const iv = ivs.bytes(16);
      return {
        encryptedData: encryptOpenData(sealed, key, iv),
        iv: iv.toString('base64'),
        rawData,
        signature: rawDataSignature(rawData, key),
      };
    },

    /** resetusersessionkey: a new key that keeps the old expiry (§6). */
    resetKey(user: SimUser): string {
      setKey(user, newSessionKey(), clock.now());
      return user.sessionKey;
    },
    expireKey(appId: string, openid: string): void {
      const user = users.get(userKey(appId, openid));
      if (!user) throw new SimInputError(`unknown user ${openid} in ${appId}`);
      user.keyExpiresAt = Math.min(user.keyExpiresAt, clock.now());
    },
    currentKey: (appId: string, openid: string) => liveKey(users.get(userKey(appId, openid)), clock.now()),
    liveKey,
    issuedKeys: () => [...issuedKeys],
    clear(): void {
      users.clear();
      openidByUnion.clear();
      issuedKeys.clear();
      loginCodes.clear();
      phoneCodes.clear();
    },
  };
}
