import { randomBytes } from 'node:crypto';
import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import type { FastifyInstance } from 'fastify';
import { isInboxProvider } from '../adapters/sms/inbox-provider.ts';
import type { SmsProvider } from '../adapters/sms/sms-provider.types.ts';
import type { WechatAppConfig } from '../config/load-config.ts';
import { AppError } from '../errors.ts';
import { playgroundRoutes } from './playground/playground.routes.ts';

/** The app dev mode registers with its simulator. Fixed, so a restarted server keeps its users. */
export const DEV_APP_ID = 'wxdev0000000000001';

export interface DevEnvironment {
  simulator: Simulator;
  app: WechatAppConfig;
  /** GET /__dev and, with the inbox provider, GET /__dev/sms. */
  routes: (sms: SmsProvider) => (app: FastifyInstance) => Promise<void>;
  close(): Promise<void>;
}

/**
 * Dev mode: no WeChat credentials are configured, so the server runs its own WeChat simulator and
 * talks to it as it would to api.weixin.qq.com. Nothing here is mounted outside dev mode.
 */
export async function startDevEnvironment(options: {
  simPort: number;
  host: string;
}): Promise<DevEnvironment> {
  // A fresh secret per start: only this process talks to this simulator.
  const secret = randomBytes(16).toString('hex');
  const simulator = await startSimulator({
    port: options.simPort,
    host: options.host,
    apps: [{ appId: DEV_APP_ID, secret, unionBound: true }],
  });
  const app: WechatAppConfig = { appId: DEV_APP_ID, secret, apiBaseUrl: simulator.url };
  return {
    simulator,
    app,
    routes: (sms) => async (fastify) => {
      fastify.get('/__dev', { schema: { hide: true } }, async () => ({
        simulator: simulator.url,
        appId: DEV_APP_ID,
      }));
      fastify.get<{ Querystring: { phone?: string } }>(
        '/__dev/sms',
        { schema: { hide: true } },
        async (request) => {
          if (!isInboxProvider(sms)) {
            throw new AppError('not_found', {
              message: 'The SMS inbox exists only with the dev inbox provider.',
            });
          }
          const phone = typeof request.query.phone === 'string' ? request.query.phone : undefined;
          return { messages: sms.messages(phone) };
        },
      );
      await fastify.register(playgroundRoutes({ simulator, appId: DEV_APP_ID }));
    },
    close: () => simulator.close(),
  };
}

/** The three commands a newcomer can paste to see a login work. */
export function tryItText(serverUrl: string, simulatorUrl: string): string {
  return [
    'Try a login in three commands:',
    `  CODE=$(curl -s -X POST ${simulatorUrl}/__sim/login -H 'content-type: application/json' -d '{"appId":"${DEV_APP_ID}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).code')`,
    `  TOKEN=$(curl -s -X POST ${serverUrl}/v1/auth/wechat/login -H 'content-type: application/json' -d "{\\"code\\":\\"$CODE\\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')`,
    `  curl -s ${serverUrl}/v1/me -H "authorization: Bearer $TOKEN"`,
    '',
    `Or open the playground, a mini program in your browser: ${serverUrl}/playground`,
  ].join('\n');
}
