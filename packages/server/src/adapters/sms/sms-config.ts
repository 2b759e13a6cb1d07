import type { AliyunSmsOptions } from './aliyun-provider.ts';
import { resolveEndpoint } from './provider-support.ts';
import type { TencentSmsOptions } from './tencent-provider.ts';

export type SmsProviderConfig =
  | { provider: 'inbox' }
  | ({ provider: 'tencent' } & TencentSmsOptions)
  | ({ provider: 'aliyun' } & AliyunSmsOptions);

/**
 * Bad SMS configuration; the message names the variable, never its value. Its own class rather than
 * config/ConfigError so this module imports nothing from config/, which may import SMS_VARIABLES from
 * here (an import cycle would leave SMS_VARIABLES uninitialised); callers wrap or match on `name`.
 */
export class SmsConfigError extends Error {
  override name = 'SmsConfigError';
}

/** The SMS rows of the configuration table (merged into config.schema's VARIABLES and docs/config.md). */
export const SMS_VARIABLES = [
  {
    name: 'WXAUTH_SMS_PROVIDER',
    default: 'inbox',
    description:
      'SMS vendor: inbox, tencent or aliyun. inbox keeps codes in memory (GET /__dev/sms in dev mode) and sends nothing: never use it where real users log in.',
  },
  {
    name: 'WXAUTH_SMS_TENCENT_SECRET_ID',
    secret: true,
    description: 'Tencent Cloud API SecretId (tencent).',
  },
  {
    name: 'WXAUTH_SMS_TENCENT_SECRET_KEY',
    secret: true,
    description: 'Tencent Cloud API SecretKey (tencent).',
  },
  {
    name: 'WXAUTH_SMS_TENCENT_REGION',
    default: 'ap-guangzhou',
    description: 'Tencent Cloud region for SendSms.',
  },
  {
    name: 'WXAUTH_SMS_TENCENT_SDK_APP_ID',
    description: 'Tencent SMS SmsSdkAppId, e.g. 1400006666 (tencent).',
  },
  { name: 'WXAUTH_SMS_TENCENT_SIGN_NAME', description: 'Approved Tencent SMS signature text (tencent).' },
  {
    name: 'WXAUTH_SMS_TENCENT_TEMPLATE_ID',
    description:
      'Approved Tencent SMS template id; its parameters are {1} the code and {2} minutes of validity.',
  },
  {
    name: 'WXAUTH_SMS_TENCENT_ENDPOINT',
    default: 'sms.tencentcloudapi.com',
    description:
      'Tencent API host; host:port or http(s)://host:port (plain http only for loopback, e.g. the simulator).',
  },
  { name: 'WXAUTH_SMS_ALIYUN_ACCESS_KEY_ID', secret: true, description: 'Aliyun AccessKey ID (aliyun).' },
  {
    name: 'WXAUTH_SMS_ALIYUN_ACCESS_KEY_SECRET',
    secret: true,
    description: 'Aliyun AccessKey secret (aliyun).',
  },
  { name: 'WXAUTH_SMS_ALIYUN_SIGN_NAME', description: 'Approved Aliyun SMS signature name (aliyun).' },
  {
    name: 'WXAUTH_SMS_ALIYUN_TEMPLATE_CODE',
    description: 'Approved Aliyun template code, e.g. SMS_15305****; its one variable is named code.',
  },
  {
    name: 'WXAUTH_SMS_ALIYUN_ENDPOINT',
    default: 'dysmsapi.aliyuncs.com',
    description: 'Aliyun Dysmsapi host; host:port or http(s)://host:port (plain http only for loopback).',
  },
] as const satisfies readonly { name: string; default?: string; secret?: boolean; description: string }[];

export type SmsVariableName = (typeof SMS_VARIABLES)[number]['name'];

const PROVIDERS = ['inbox', 'tencent', 'aliyun'] as const;

/** Reads the WXAUTH_SMS_* variables; throws SmsConfigError naming the first bad one. */
export function parseSmsProviderConfig(env: Record<string, string | undefined>): SmsProviderConfig {
  const get = (name: SmsVariableName): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const required = (name: SmsVariableName, provider: string): string => {
    const value = get(name);
    if (value === undefined)
      throw new SmsConfigError(`${name} is required when WXAUTH_SMS_PROVIDER=${provider}`);
    return value;
  };
  const matching = (name: SmsVariableName, provider: string, pattern: RegExp, what: string): string => {
    const value = required(name, provider);
    if (!pattern.test(value)) throw new SmsConfigError(`${name} must be ${what}`);
    return value;
  };
  const endpoint = (name: SmsVariableName): string | undefined => {
    const value = get(name);
    if (value === undefined) return undefined;
    try {
      resolveEndpoint(value);
    } catch (error) {
      throw new SmsConfigError(`${name}: ${error instanceof Error ? error.message : 'invalid'}`);
    }
    return value;
  };

  const chosen = get('WXAUTH_SMS_PROVIDER');
  if (chosen !== undefined && !PROVIDERS.some((p) => p === chosen)) {
    throw new SmsConfigError(`WXAUTH_SMS_PROVIDER must be one of ${PROVIDERS.join(', ')}`);
  }
  if (chosen === undefined) {
    // Vendor credentials without a provider almost always mean a forgotten WXAUTH_SMS_PROVIDER: falling
    // back to the inbox would silently send no SMS in production.
    const stray = SMS_VARIABLES.find((v) => v.name !== 'WXAUTH_SMS_PROVIDER' && get(v.name) !== undefined);
    if (stray) {
      throw new SmsConfigError(
        `${stray.name} is set but WXAUTH_SMS_PROVIDER is not; set WXAUTH_SMS_PROVIDER (tencent, aliyun or inbox)`,
      );
    }
    return Object.freeze({ provider: 'inbox' });
  }
  if (chosen === 'tencent') {
    return Object.freeze({
      provider: 'tencent',
      secretId: required('WXAUTH_SMS_TENCENT_SECRET_ID', chosen),
      secretKey: required('WXAUTH_SMS_TENCENT_SECRET_KEY', chosen),
      region:
        get('WXAUTH_SMS_TENCENT_REGION') === undefined
          ? 'ap-guangzhou'
          : matching(
              'WXAUTH_SMS_TENCENT_REGION',
              chosen,
              /^[a-z]{2,}(-[a-z0-9]+)+$/,
              'a region such as ap-guangzhou',
            ),
      sdkAppId: matching('WXAUTH_SMS_TENCENT_SDK_APP_ID', chosen, /^\d{1,20}$/, 'digits (the SmsSdkAppId)'),
      signName: required('WXAUTH_SMS_TENCENT_SIGN_NAME', chosen),
      templateId: matching(
        'WXAUTH_SMS_TENCENT_TEMPLATE_ID',
        chosen,
        /^\d{1,20}$/,
        'digits (the template id)',
      ),
      endpoint: endpoint('WXAUTH_SMS_TENCENT_ENDPOINT'),
    });
  }
  if (chosen === 'aliyun') {
    return Object.freeze({
      provider: 'aliyun',
      accessKeyId: required('WXAUTH_SMS_ALIYUN_ACCESS_KEY_ID', chosen),
      accessKeySecret: required('WXAUTH_SMS_ALIYUN_ACCESS_KEY_SECRET', chosen),
      signName: required('WXAUTH_SMS_ALIYUN_SIGN_NAME', chosen),
      templateCode: matching(
        'WXAUTH_SMS_ALIYUN_TEMPLATE_CODE',
        chosen,
        /^[A-Za-z0-9_]{1,64}$/,
        'a template code',
      ),
      endpoint: endpoint('WXAUTH_SMS_ALIYUN_ENDPOINT'),
    });
  }
  return Object.freeze({ provider: 'inbox' });
}
