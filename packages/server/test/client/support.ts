import {
  type AuthClient,
  type AuthClientOptions,
  createAuthClient,
  createWxPlatform,
} from '../../../client/src/index.ts';
import type { MemoryStorage } from '../../../client/test/support/memory-storage.ts';
import { createWxShim, type WxShim } from '../../../client/test/support/wx-shim.ts';
import { APP_ID, type Harness, startHarness } from '../support/harness.ts';
import { pgliteStore } from '../support/test-db.ts';

/**
 * The client SDK end to end: a real wxauth (startHarness) listening on a real port, the real
 * simulator behind it, and "devices" — an SDK instance on a `wx` shim that mints codes through the
 * simulator and speaks real HTTP.
 */
export interface ClientWorld {
  h: Harness;
  url: string;
  /** Moves the server's clock (ms), e.g. past the access token lifetime. */
  advanceServer(ms: number): void;
  device(options?: DeviceOptions): Device;
  close(): Promise<void>;
}

export interface DeviceOptions {
  openid?: string;
  /** The same storage again plays "the app restarted on the same phone". */
  storage?: MemoryStorage;
  /** Offset (ms) of this device's clock from real time. */
  clockOffsetMs?: number;
  client?: Partial<AuthClientOptions>;
}

export interface Device {
  wx: WxShim;
  auth: AuthClient;
  /** The device's clock offset, movable after creation. */
  clock: { offsetMs: number };
}

export async function startClientWorld(options: { env?: Record<string, string> } = {}): Promise<ClientWorld> {
  const db = await pgliteStore.open();
  let serverOffset = 0;
  const h = await startHarness({
    db,
    clock: { now: () => Date.now() + serverOffset },
    ...(options.env ? { env: options.env } : {}),
  });
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    h,
    url,
    advanceServer(ms) {
      serverOffset += ms;
    },
    device(deviceOptions = {}) {
      const wx = createWxShim({
        simulatorUrl: h.sim.url,
        appId: APP_ID,
        ...(deviceOptions.openid ? { openid: deviceOptions.openid } : {}),
        ...(deviceOptions.storage ? { storage: deviceOptions.storage } : {}),
      });
      const clock = { offsetMs: deviceOptions.clockOffsetMs ?? 0 };
      const auth = createAuthClient({
        baseURL: url,
        appId: APP_ID,
        platform: createWxPlatform(wx),
        now: () => Date.now() + clock.offsetMs,
        ...deviceOptions.client,
      });
      return { wx, auth, clock };
    },
    async close() {
      await h.close();
      await db.close();
    },
  };
}

/** Access tokens live 15 minutes; this is safely past that. */
export const PAST_ACCESS_TTL_MS = 16 * 60 * 1000;

export interface Me {
  id: string;
  phone: string | null;
  wechat: { appId: string; openid: string; unionid: string | null }[];
}
