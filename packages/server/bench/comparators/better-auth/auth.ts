import { betterAuth } from 'better-auth';
import { bearer } from 'better-auth/plugins/bearer';
import { phoneNumber } from 'better-auth/plugins/phone-number';
import type { ComparatorConfig } from './config.ts';
import type { ComparatorDb } from './db.ts';
import type { Code2SessionClient } from './jscode2session.ts';
import type { SmsProvider } from './sms.ts';
import { wechatLogin } from './wechat-plugin.ts';

/** Fixed for reproducible runs; long and random-looking so better-auth's secret checks log nothing. */
const SECRET = 'bench-only-9c1f4e7a2b8d6053f1e4a7c9b2d8e6f0a3c5b7d9';
export const BASE_URL = 'http://127.0.0.1';

export function createAuth(deps: {
  config: ComparatorConfig;
  db: ComparatorDb;
  code2Session: Code2SessionClient;
  sms: SmsProvider;
}) {
  const { config, db, sms } = deps;
  return betterAuth({
    secret: SECRET,
    baseURL: BASE_URL,
    // Transactions on, as better-auth's own default when handed a pg Pool directly; set explicitly so
    // PGlite (a Kysely instance, default off) behaves the same and only the store differs.
    database: { db: db.kysely, type: 'postgres', transaction: true },
    // One load generator on one IP would only measure the limiter tripping over itself.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    // Off by default: findSession and the account lookup then read session/account and user separately.
    ...(config.joins ? { advanced: { database: { joins: true } } } : {}),
    // stdout carries only the READY line.
    logger: {
      level: 'error',
      log: (level, message) => process.stderr.write(`[better-auth ${level}] ${message}\n`),
    },
    session: {
      // 1.7 default: 86400 s, i.e. at most one session UPDATE a day; 0 forces one per get-session.
      ...(config.updateAge !== undefined ? { updateAge: config.updateAge } : {}),
      // Off by default. 'compact' is 1.7's default strategy (base64url JSON + HMAC), named for clarity.
      ...(config.cookieCache ? { cookieCache: { enabled: true, strategy: 'compact' as const } } : {}),
    },
    plugins: [
      bearer(),
      wechatLogin(deps.code2Session),
      phoneNumber({
        // In 1.7 the plugin awaits whatever sendOTP returns unless advanced.backgroundTasks is set.
        // off (the docs' recommendation): sendOTP starts the SMS and returns, so send-otp answers
        // without the provider's latency. on: sendOTP returns the delivery, so send-otp waits for it.
        sendOTP: ({ phoneNumber: number, code }) => {
          const delivery = sms.send(number, code);
          if (config.awaitSend) return delivery;
          delivery.catch(() => {});
        },
        signUpOnVerification: {
          getTempEmail: (number) => `${number.replace(/\D/g, '')}@phone.invalid`,
          getTempName: (number) => number,
        },
      }),
    ],
  });
}

export type ComparatorAuth = ReturnType<typeof createAuth>;
