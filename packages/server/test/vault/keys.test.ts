import { describe, expect, it } from 'vitest';
import { generateVaultKey, parseVaultKeys } from '../../src/vault/keys.ts';
import { createVault } from '../../src/vault/vault.ts';

const CTX = { table: 't', column: 'c', rowId: 'r' };

describe('vault keys: generation and parsing', () => {
  it('generates distinct 32-byte keys', () => {
    const a = generateVaultKey();
    const b = generateVaultKey();
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
  });

  it('parses standard and URL-alphabet base64, padded or not, from a value or JSON text', () => {
    const keys = [generateVaultKey(), generateVaultKey(), generateVaultKey()];
    const json = [
      { kid: 'std', key: keys[0]!.toString('base64'), status: 'primary' },
      { kid: 'url', key: keys[1]!.toString('base64url'), status: 'decrypt-only' },
      { kid: 'url-padded', key: `${keys[2]!.toString('base64url')}=`, status: 'retired' },
    ];
    for (const input of [json, JSON.stringify(json)]) {
      const parsed = parseVaultKeys(input);
      expect(parsed.map(({ kid, status }) => ({ kid, status }))).toEqual([
        { kid: 'std', status: 'primary' },
        { kid: 'url', status: 'decrypt-only' },
        { kid: 'url-padded', status: 'retired' },
      ]);
      parsed.forEach((entry, i) => {
        expect(entry.key.equals(keys[i]!)).toBe(true);
      });
      const vault = createVault({ keys: parsed });
      expect(vault.open(vault.seal('hello', CTX), CTX)).toBe('hello');
    }
  });

  it('rejects bad input with clear errors that never contain key material', () => {
    const key = generateVaultKey();
    const b64 = key.toString('base64');
    const ok = { kid: 'a', key: b64, status: 'primary' };
    const cases: [unknown, RegExp][] = [
      [`[{"kid":"a","key":"${b64}",}]`, /not valid JSON/],
      [{ kid: 'a' }, /expected a JSON array/],
      [[], /at least one key/],
      [[null], /entry 0 must be an object/],
      [[[ok]], /entry 0 must be an object/],
      [[{ ...ok, [b64]: 1 }], /entry 0 has unexpected fields/],
      [[{ ...ok, kid: 'a.b' }], /entry 0 has an invalid kid/],
      [[{ ...ok, kid: 5 }], /entry 0 has an invalid kid/],
      [[{ ...ok, status: 'active' }], /kid "a" has an invalid status/],
      [[{ ...ok, key: 12 }], /kid "a" has a key that is not valid base64/],
      [[{ ...ok, key: `${b64.slice(0, 20)}*${b64.slice(21)}` }], /not valid base64/],
      [[{ ...ok, key: `${b64.slice(0, 10)}-+${b64.slice(12)}` }], /not valid base64/],
      [[{ ...ok, key: `${b64.slice(0, 42)}B=` }], /not valid base64/], // spare bits set: non-canonical
      [[{ ...ok, key: `=${b64}` }], /not valid base64/],
      [[{ ...ok, key: key.subarray(0, 16).toString('base64') }], /exactly 32 bytes/],
      [[{ ...ok, key: Buffer.concat([key, key]).toString('base64') }], /exactly 32 bytes/],
      [[ok, { ...ok, kid: 'b', key: generateVaultKey().toString('base64') }], /found 2/],
      [[{ ...ok, status: 'retired' }], /found 0/],
      [
        [ok, { ...ok, status: 'retired', key: generateVaultKey().toString('base64') }],
        /appears more than once/,
      ],
      [[ok, { ...ok, kid: 'b', status: 'decrypt-only' }], /kids "a" and "b" share the same key material/],
    ];
    for (const [input, message] of cases) {
      expect(() => parseVaultKeys(input)).toThrow(message);
      try {
        parseVaultKeys(input);
      } catch (error) {
        const text = `${(error as Error).message} ${String((error as Error).cause ?? '')}`;
        expect(text).not.toContain(b64.slice(0, 12));
        expect(text).not.toContain(key.toString('base64url').slice(0, 12));
      }
    }
  });
});
