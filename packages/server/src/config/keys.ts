import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, parseSigningKeys, type SigningKeyConfig } from '../sessions/signing-keys.ts';
import { generateVaultKey, parseVaultKeys, type VaultKeyConfig } from '../vault/keys.ts';
import { ConfigError } from './load-config.ts';

/** Every secret key wxauth uses, from one JSON document (WXAUTH_KEYS / WXAUTH_KEYS_FILE). */
export interface KeySet {
  vault: VaultKeyConfig[];
  jwt: SigningKeyConfig[];
  /** Derives refresh-token children (sessions/refresh-token.ts); ≥ 32 bytes. */
  refreshPepper: Buffer;
  /** Keys the HMAC of stored SMS codes (R11). Derived from refreshPepper when the key set has none. */
  otpPepper: Buffer;
}

export function parseKeySet(json: unknown): KeySet {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('keys: expected an object {vault, jwt, refreshPepper}');
  }
  const raw = json as Record<string, unknown>;
  try {
    const pepper = typeof raw.refreshPepper === 'string' ? Buffer.from(raw.refreshPepper, 'base64') : null;
    if (!pepper || pepper.length < 32)
      throw new Error('keys: refreshPepper must be base64 of at least 32 bytes');
    const otp = typeof raw.otpPepper === 'string' ? Buffer.from(raw.otpPepper, 'base64') : null;
    if (otp && otp.length < 32) throw new Error('keys: otpPepper must be base64 of at least 32 bytes');
    return {
      vault: parseVaultKeys(raw.vault),
      jwt: parseSigningKeys(raw.jwt),
      refreshPepper: pepper,
      // Separate keys for separate purposes: an HKDF child, so older key sets need no new field.
      otpPepper: otp ?? Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), 'wxauth otp pepper', 32)),
    };
  } catch (err) {
    // The parsers' messages never contain key material, only which entry is wrong.
    throw new ConfigError(err instanceof Error ? err.message : 'keys: invalid');
  }
}

/** A complete new key set, as JSON text ready to store in a secrets manager. */
export async function generateKeySetJson(): Promise<string> {
  const jwt = await generateSigningKey();
  return JSON.stringify(
    {
      vault: [
        {
          kid: `v${randomBytes(4).toString('hex')}`,
          key: generateVaultKey().toString('base64'),
          status: 'primary',
        },
      ],
      jwt: [jwt],
      refreshPepper: randomBytes(32).toString('base64'),
      otpPepper: randomBytes(32).toString('base64'),
    },
    null,
    2,
  );
}

/**
 * Dev mode only: keys live in `<dataDir>/keys.json`, generated on first start (the caller says so
 * loudly). They must never be used in production, where keys come from a secrets manager.
 */
export async function loadOrCreateDevKeys(
  dataDir: string,
): Promise<{ keys: KeySet; path: string; created: boolean }> {
  const path = join(dataDir, 'keys.json');
  if (existsSync(path))
    return { keys: parseKeySet(JSON.parse(readFileSync(path, 'utf8'))), path, created: false };
  mkdirSync(dataDir, { recursive: true });
  const json = await generateKeySetJson();
  writeFileSync(path, json, { mode: 0o600 });
  return { keys: parseKeySet(JSON.parse(json)), path, created: true };
}
