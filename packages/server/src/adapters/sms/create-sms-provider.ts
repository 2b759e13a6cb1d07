import type { Clock } from '../../clock.ts';
import { createInboxProvider } from './inbox-provider.ts';
import { resolveEndpoint } from './provider-support.ts';
import type { SmsProviderConfig } from './sms-config.ts';
import type { SmsProvider } from './sms-provider.types.ts';

export {
  parseSmsProviderConfig,
  SMS_VARIABLES,
  SmsConfigError,
  type SmsProviderConfig,
} from './sms-config.ts';

/**
 * Builds the configured provider. The vendor SDKs take most of a second to load (the Aliyun one about
 * 0.6 s), so they are imported in the background when a vendor is chosen, never for the inbox: dev mode
 * and the test suite do not pay for them. Options are checked here, synchronously, so a bad endpoint
 * fails at start-up rather than at the first send.
 */
export function createSmsProvider(config: SmsProviderConfig, deps: { clock: Clock }): SmsProvider {
  switch (config.provider) {
    case 'inbox':
      return createInboxProvider({ clock: deps.clock });
    case 'tencent': {
      const { provider, ...options } = config;
      resolveEndpoint(options.endpoint ?? 'sms.tencentcloudapi.com');
      return lazyProvider(provider, async () =>
        (await import('./tencent-provider.ts')).createTencentSmsProvider(options),
      );
    }
    case 'aliyun': {
      const { provider, ...options } = config;
      const wanted = options.protocol?.toLowerCase();
      resolveEndpoint(
        options.endpoint ?? 'dysmsapi.aliyuncs.com',
        wanted === 'http' || wanted === 'https' ? wanted : undefined,
      );
      return lazyProvider(provider, async () =>
        (await import('./aliyun-provider.ts')).createAliyunSmsProvider(options),
      );
    }
  }
}

function lazyProvider(name: 'tencent' | 'aliyun', load: () => Promise<SmsProvider>): SmsProvider {
  const loading = load();
  // Surfaced by the first send; until then a failed import must not become an unhandled rejection.
  loading.catch(() => {});
  return {
    name,
    async send(message) {
      return (await loading).send(message);
    },
  };
}
