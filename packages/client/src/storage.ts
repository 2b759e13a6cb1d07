import type { PlatformStorage } from './platform.ts';
import type { TokenResponse, User } from './types.ts';

/** WeChat's limit for one storage key (wechat-api.md §13.3: "单个 key 允许存储的最大数据长度为 1MB"). */
export const MAX_ENTRY_BYTES = 1024 * 1024;

/** The session as the SDK keeps it; times in ms since the epoch by the SDK's clock. */
export interface StoredSession {
  v: 1;
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  user: User;
}

export interface SessionStore {
  load(): StoredSession | null;
  /** False when the session could not be persisted (too big, storage full): it then lives in memory. */
  save(session: StoredSession): boolean;
  clear(): void;
}

/**
 * Everything the SDK persists sits under one key, `<prefix>:session`, so it is easy to find, cannot
 * collide with the app's own keys, and is written in one call (no half-updated token pair).
 */
export function createSessionStore(storage: PlatformStorage, prefix: string): SessionStore {
  const key = `${prefix}:session`;
  return {
    load() {
      let raw: string | null;
      try {
        raw = storage.get(key);
      } catch {
        return null;
      }
      if (!raw) return null;
      const session = parseSession(raw);
      // A corrupt or foreign entry is dropped rather than trusted.
      if (!session) safely(() => storage.remove(key));
      return session;
    },
    save(session) {
      const raw = JSON.stringify(session);
      if (utf8Length(key) + utf8Length(raw) > MAX_ENTRY_BYTES) {
        safely(() => storage.remove(key));
        return false;
      }
      try {
        storage.set(key, raw);
        return true;
      } catch {
        // 10 MB used up by the app's own data: keep working from memory rather than fail the login.
        // An older entry must not survive, or the next launch would restore a retired token.
        safely(() => storage.remove(key));
        return false;
      }
    },
    clear() {
      safely(() => storage.remove(key));
    },
  };
}

/** Turns a token response into what is stored; expiries by the SDK's clock, not the server's. */
export function sessionFromTokens(tokens: TokenResponse, now: number): StoredSession {
  return {
    v: 1,
    accessToken: tokens.accessToken,
    accessExpiresAt: now + tokens.expiresIn * 1000,
    refreshToken: tokens.refreshToken,
    refreshExpiresAt: now + tokens.refreshExpiresIn * 1000,
    user: tokens.user,
  };
}

function parseSession(raw: string): StoredSession | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(value) || value.v !== 1) return null;
  const { accessToken, accessExpiresAt, refreshToken, refreshExpiresAt, user } = value;
  if (
    typeof accessToken !== 'string' ||
    typeof refreshToken !== 'string' ||
    typeof accessExpiresAt !== 'number' ||
    typeof refreshExpiresAt !== 'number' ||
    !isUser(user)
  ) {
    return null;
  }
  return { v: 1, accessToken, accessExpiresAt, refreshToken, refreshExpiresAt, user };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isUser(value: unknown): value is User {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    (value.phone === null || typeof value.phone === 'string') &&
    Array.isArray(value.wechat)
  );
}

/** UTF-8 byte length without TextEncoder, which older mini-program base libraries lack. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else bytes += 3; // the rest of the BMP, and a lone surrogate (written as U+FFFD)
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

function safely(action: () => void): void {
  try {
    action();
  } catch {
    // Storage failures never break the SDK: the session then lives in memory.
  }
}
