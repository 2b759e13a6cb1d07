import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWxPlatform, WxAuthError, type WxLike } from '../src/index.ts';
import { createSessionStore, MAX_ENTRY_BYTES, utf8Length } from '../src/storage.ts';
import { createLimiter } from '../src/transport.ts';
import { createMemoryStorage } from './support/memory-storage.ts';

type RequestOption = Parameters<WxLike['request']>[0];
type LoginOption = Parameters<WxLike['login']>[0];

/** A wx whose request and login answer with what the test says. */
function fakeWx(answer: {
  request?: (option: RequestOption) => void;
  login?: (option: LoginOption) => void;
}): WxLike {
  const storage = createMemoryStorage();
  return {
    login: (option) => answer.login?.(option),
    request: (option) => answer.request?.(option),
    getStorageSync: storage.getStorageSync,
    setStorageSync: storage.setStorageSync,
    removeStorageSync: storage.removeStorageSync,
  };
}

describe('createWxPlatform', () => {
  it('resolves every response that arrived, a 500 included, with lower-cased headers', async () => {
    const platform = createWxPlatform(
      fakeWx({
        request: (o) =>
          o.success?.({
            statusCode: 500,
            data: { error: { code: 'internal_error' } },
            header: { 'Retry-After': 3 },
          }),
      }),
    );
    const res = await platform.request({ url: 'https://x.test/a', method: 'GET', header: {} });
    expect(res).toEqual({
      statusCode: 500,
      data: { error: { code: 'internal_error' } },
      header: { 'retry-after': '3' },
    });
  });

  it('rejects with network_error only when nothing arrived', async () => {
    const platform = createWxPlatform(
      fakeWx({ request: (o) => o.fail?.({ errMsg: 'request:fail timeout', errno: 5 }) }),
    );
    const error = await platform
      .request({ url: 'https://x.test/a', method: 'GET', header: {} })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WxAuthError);
    expect(error).toMatchObject({ code: 'network_error', status: 0, errno: 5 });
    expect((error as Error).message).toContain('request:fail timeout');
  });

  it('passes method, header, data and timeout through, and asks for JSON', async () => {
    let seen: RequestOption | undefined;
    const platform = createWxPlatform(
      fakeWx({
        request: (o) => {
          seen = o;
          o.success?.({ statusCode: 204, data: '', header: {} });
        },
      }),
    );
    await platform.request({
      url: 'https://x.test/a',
      method: 'POST',
      header: { a: 'b' },
      data: { x: 1 },
      timeout: 5,
    });
    expect(seen).toMatchObject({
      url: 'https://x.test/a',
      method: 'POST',
      header: { a: 'b' },
      data: { x: 1 },
      timeout: 5,
      dataType: 'json',
    });
  });

  it('wx.login: the code, or wechat_login_failed', async () => {
    const ok = createWxPlatform(fakeWx({ login: (o) => o.success?.({ code: 'c1' }) }));
    expect(await ok.login()).toBe('c1');
    const failing = createWxPlatform(fakeWx({ login: (o) => o.fail?.({ errMsg: 'login:fail', errno: 1 }) }));
    await expect(failing.login()).rejects.toMatchObject({ code: 'wechat_login_failed', errno: 1 });
    const empty = createWxPlatform(fakeWx({ login: (o) => o.success?.({ code: '' }) }));
    await expect(empty.login()).rejects.toMatchObject({ code: 'wechat_login_failed' });
  });

  it("reads a missing key ('' on WeChat) as null", () => {
    const platform = createWxPlatform(fakeWx({}));
    expect(platform.storage.get('nope')).toBeNull();
    platform.storage.set('k', 'v');
    expect(platform.storage.get('k')).toBe('v');
  });
});

describe('session storage', () => {
  const session = (phone: string | null = null) => ({
    v: 1 as const,
    accessToken: 'a',
    accessExpiresAt: 1,
    refreshToken: 'r',
    refreshExpiresAt: 2,
    user: { id: 'u', phone, wechat: [] },
  });

  it('round-trips under <prefix>:session only', () => {
    const wx = createMemoryStorage();
    const store = createSessionStore(createWxPlatform({ ...fakeWx({}), ...wx }).storage, 'myapp');
    expect(store.save(session())).toBe(true);
    expect(wx.entries().map(([k]) => k)).toEqual(['myapp:session']);
    expect(store.load()).toEqual(session());
    store.clear();
    expect(wx.entries()).toEqual([]);
  });

  it('refuses an entry above WeChat’s 1 MB a key, and drops any older one', () => {
    const wx = createMemoryStorage();
    const store = createSessionStore(createWxPlatform({ ...fakeWx({}), ...wx }).storage, 'wxauth');
    store.save(session());
    const huge = session('x'.repeat(MAX_ENTRY_BYTES));
    expect(store.save(huge)).toBe(false);
    expect(wx.entries()).toEqual([]);
  });

  it('survives a storage that throws on every call', () => {
    const broken = {
      get: () => {
        throw new Error('getStorageSync:fail');
      },
      set: () => {
        throw new Error('setStorageSync:fail');
      },
      remove: () => {
        throw new Error('removeStorageSync:fail');
      },
    };
    const store = createSessionStore(broken, 'wxauth');
    expect(store.load()).toBeNull();
    expect(store.save(session())).toBe(false);
    expect(() => store.clear()).not.toThrow();
  });

  it('measures UTF-8 like the runtime does, without TextEncoder', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
      }),
    );
    expect(utf8Length('手机号😀')).toBe(Buffer.byteLength('手机号😀'));
  });
});

describe('createLimiter', () => {
  it('runs at most N at once, the rest in arrival order', async () => {
    const limit = createLimiter(3);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        limit(async () => {
          started.push(i);
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 2));
          running--;
          if (i === 5) throw new Error('one failure frees its slot too');
        }).catch(() => {}),
      ),
    );
    expect(peak).toBe(3);
    expect(started).toEqual([...Array(12).keys()]);
  });
});
