import { createDecipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateVaultKey, type VaultKeyConfig } from '../../src/vault/keys.ts';
import { createVault, type VaultEvent } from '../../src/vault/vault.ts';
import type { SealContext } from '../../src/vault/vault.types.ts';

const KEK_1 = generateVaultKey();
const KEK_2 = generateVaultKey();
const KEK_OLD = generateVaultKey();

const RING: VaultKeyConfig[] = [
  { kid: 'k1', key: KEK_1, status: 'primary' },
  { kid: 'k2', key: KEK_2, status: 'decrypt-only' },
  { kid: 'k-old', key: KEK_OLD, status: 'retired' },
];

function setup(keys: VaultKeyConfig[] = RING) {
  const events: VaultEvent[] = [];
  const vault = createVault({ keys, onEvent: (event) => events.push(event) });
  return { vault, events };
}

const CTX: SealContext = { table: 'wechat_identities', column: 'session_key_enc', rowId: 'wx123:oOpenId' };
const ENVELOPE =
  /^\{"v":1,"kid":"([A-Za-z0-9_-]+)","alg":"A256GCM-HKDF","nonce":"([A-Za-z0-9_-]{16})","ct":"([A-Za-z0-9_-]+)"\}$/;

/** Context parts: any well-formed Unicode without NUL, as table/column/row ids may be. */
const part = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0'));
const context = fc.record({ table: part, column: part, rowId: part });
const plaintext = fc.string({ unit: 'binary', maxLength: 200 });

type Fields = { v: unknown; kid: unknown; alg: unknown; nonce: unknown; ct: unknown };
const fields = (envelope: string): Fields => JSON.parse(envelope) as Fields;
const rebuild = (f: Record<string, unknown>): string => JSON.stringify(f);

describe('vault: round trip and format (R25)', () => {
  it('opens what it sealed, for any string and any context', () => {
    const { vault, events } = setup();
    fc.assert(
      fc.property(plaintext, context, (text, ctx) => {
        const envelope = vault.seal(text, ctx);
        expect(vault.open(envelope, ctx)).toBe(text);
        expect(vault.kidOf(envelope)).toBe('k1');
      }),
      { numRuns: 1000 },
    );
    expect(events).toEqual([]);
  });

  it('round-trips random bytes carried as base64 (the shape of a session_key)', () => {
    const { vault } = setup();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), part, (bytes, rowId) => {
        const text = Buffer.from(bytes).toString('base64');
        const ctx = { ...CTX, rowId };
        expect(Buffer.from(vault.open(vault.seal(text, ctx), ctx)!, 'base64')).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes the documented compact envelope: ct = ciphertext ‖ 16-byte tag', () => {
    const { vault } = setup();
    const envelope = vault.seal('tiihtNczf5v6AKRyjwEUhQ==', CTX);
    const match = ENVELOPE.exec(envelope);
    expect(match?.[1]).toBe('k1');
    expect(Buffer.from(match![2]!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(match![3]!, 'base64url')).toHaveLength(24 + 16);
  });

  it('matches the documented construction, checked with node:crypto independently', () => {
    const { vault } = setup();
    const envelope = vault.seal('secret ✓', CTX);
    const { nonce, ct } = fields(envelope) as { nonce: string; ct: string };
    const info = Buffer.from(`${CTX.column}\0${CTX.rowId}`);
    const dataKey = Buffer.from(hkdfSync('sha256', KEK_1, Buffer.alloc(0), info, 32));
    const bytes = Buffer.from(ct, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(nonce, 'base64url'));
    decipher.setAAD(Buffer.from(`${CTX.table}\0${CTX.column}\0${CTX.rowId}\0k1\x001`));
    decipher.setAuthTag(bytes.subarray(-16));
    const plain = Buffer.concat([decipher.update(bytes.subarray(0, -16)), decipher.final()]);
    expect(plain.toString('utf8')).toBe('secret ✓');
  });

  it('never returns ciphertext: the envelope does not contain the plaintext', () => {
    const { vault } = setup();
    const envelope = vault.seal('tiihtNczf5v6AKRyjwEUhQ==', CTX);
    expect(envelope).not.toContain('tiihtNczf5v6AKRyjwEUhQ');
  });

  it('never repeats a nonce over 100k seals of one row under one kid, and counts them', () => {
    const { vault } = setup();
    const nonces = new Set<string>();
    for (let i = 0; i < 100_000; i++) nonces.add(ENVELOPE.exec(vault.seal('x', CTX))![2]!);
    expect(nonces.size).toBe(100_000);
    expect(vault.sealCount('k1')).toBe(100_000);
    expect(vault.sealCount('k2')).toBe(0);
    expect(vault.sealCount('nope')).toBe(0);
  });

  it('keeps working past the derived-key cache bound (10k rows), re-deriving evicted keys', () => {
    const { vault } = setup();
    const first = vault.seal('first', { ...CTX, rowId: 'row-0' });
    const sealed: string[] = [];
    for (let i = 0; i < 12_000; i++) {
      sealed.push(vault.seal(`v${i}`, { ...CTX, rowId: `row-${i}` }));
      // Only open() keeps a derived key, so each row is opened once to fill the cache past its bound.
      expect(vault.open(sealed[i]!, { ...CTX, rowId: `row-${i}` })).toBe(`v${i}`);
      // Keep row-0 hot so the second-chance sweep has a referenced slot to pass over.
      if (i % 1000 === 0) expect(vault.open(first, { ...CTX, rowId: 'row-0' })).toBe('first');
    }
    for (const i of [1, 2, 5000, 11_999])
      expect(vault.open(sealed[i]!, { ...CTX, rowId: `row-${i}` })).toBe(`v${i}`);
  });
});

describe('vault: tampering and context binding fail closed (R25, R27)', () => {
  it('flipping any single bit of the nonce or ct (tag included) → null and a bad_tag event', () => {
    const { vault, events } = setup();
    fc.assert(
      fc.property(
        plaintext,
        fc.constantFrom('nonce', 'ct'),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (text, field, byteSeed, bit) => {
          const envelope = vault.seal(text, CTX);
          const f = fields(envelope);
          const bytes = Buffer.from(f[field] as string, 'base64url');
          const index = byteSeed % bytes.length;
          bytes[index] = bytes[index]! ^ (1 << bit);
          events.length = 0;
          expect(vault.open(rebuild({ ...f, [field]: bytes.toString('base64url') }), CTX)).toBeNull();
          expect(events).toEqual([{ type: 'vault.open_failed', reason: 'bad_tag', kid: 'k1' }]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('changing any single character of the envelope text → null', () => {
    const { vault, events } = setup();
    const chars = 'AZaz09_-"{}:,.=+/ 1\\';
    fc.assert(
      fc.property(plaintext, fc.nat(), fc.constantFrom(...chars), (text, seed, char) => {
        const envelope = vault.seal(text, CTX);
        const index = seed % envelope.length;
        fc.pre(envelope[index] !== char);
        const tampered = envelope.slice(0, index) + char + envelope.slice(index + 1);
        events.length = 0;
        expect(vault.open(tampered, CTX)).toBeNull();
        expect(events).toHaveLength(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('changing table, column or rowId → null (AAD and derived key are bound to the row)', () => {
    const { vault, events } = setup();
    fc.assert(
      fc.property(
        plaintext,
        context,
        fc.constantFrom('table', 'column', 'rowId'),
        part,
        (text, ctx, which, other) => {
          fc.pre(ctx[which] !== other);
          const envelope = vault.seal(text, ctx);
          events.length = 0;
          expect(vault.open(envelope, { ...ctx, [which]: other })).toBeNull();
          expect(events).toEqual([{ type: 'vault.open_failed', reason: 'bad_tag', kid: 'k1' }]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('ciphertext of row A never opens as row B', () => {
    const { vault } = setup();
    fc.assert(
      fc.property(plaintext, part, part, (text, rowA, rowB) => {
        fc.pre(rowA !== rowB);
        expect(vault.open(vault.seal(text, { ...CTX, rowId: rowA }), { ...CTX, rowId: rowB })).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it('the NUL separator cannot be forged: contexts with NUL are refused on seal and on open', () => {
    const { vault, events } = setup();
    // Without the rule these two would share HKDF info "a\0b\0c".
    expect(() => vault.seal('x', { table: 't', column: 'a\0b', rowId: 'c' })).toThrow(TypeError);
    const envelope = vault.seal('x', { table: 't', column: 'a', rowId: 'b\0c'.replace('\0', '_') });
    expect(vault.open(envelope, { table: 't', column: 'a', rowId: 'b\0c' })).toBeNull();
    expect(events.at(-1)).toEqual({ type: 'vault.open_failed', reason: 'context', kid: 'k1' });
  });

  it('relabelling kid, v or alg → null with the matching reason', () => {
    const { vault, events } = setup();
    const f = fields(vault.seal('secret', CTX));
    const cases: [Record<string, unknown>, VaultEvent['reason'], string | null][] = [
      [{ ...f, kid: 'k2' }, 'bad_tag', 'k2'], // a real key, but not the one that sealed it
      [{ ...f, kid: 'k9' }, 'unknown_kid', 'k9'],
      [{ ...f, kid: 'k-old' }, 'retired_kid', 'k-old'],
      [{ ...f, v: 2 }, 'malformed', null],
      [{ ...f, v: '1' }, 'malformed', null],
      [{ ...f, alg: 'A128GCM' }, 'malformed', null],
    ];
    for (const [tampered, reason, kid] of cases) {
      events.length = 0;
      expect(vault.open(rebuild(tampered), CTX)).toBeNull();
      expect(events).toEqual([{ type: 'vault.open_failed', reason, kid }]);
    }
  });
});

describe('vault: malformed input never throws (R27)', () => {
  function expectMalformed(input: unknown) {
    const { vault, events } = setup();
    expect(vault.open(input as string, CTX)).toBeNull();
    expect(events).toEqual([{ type: 'vault.open_failed', reason: 'malformed', kid: null }]);
    expect(vault.kidOf(input as string)).toBeNull();
  }

  it('random strings → null + malformed', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), expectMalformed), { numRuns: 1000 });
  });

  it('random JSON documents → null + malformed', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 3 }), expectMalformed), { numRuns: 1000 });
  });

  it('envelope-shaped objects with random field values → null, never a throw', () => {
    const { vault, events } = setup();
    const good = fields(vault.seal('secret', CTX));
    fc.assert(
      fc.property(fc.constantFrom('v', 'kid', 'alg', 'nonce', 'ct'), fc.jsonValue(), (field, value) => {
        fc.pre(JSON.stringify(value) !== JSON.stringify(good[field]));
        events.length = 0;
        expect(vault.open(rebuild({ ...good, [field]: value }), CTX)).toBeNull();
        expect(events).toHaveLength(1);
        // A valid-looking kid or nonce gets past parsing and fails later; anything else is malformed.
        expect(['malformed', 'unknown_kid', 'bad_tag']).toContain(events[0]!.reason);
      }),
      { numRuns: 1000 },
    );
  });

  it('hand-picked wrong shapes → null + malformed', () => {
    const { vault } = setup();
    // 'secret' → 6 + 16 = 22 bytes of ct: its last base64url char carries 4 spare bits.
    const good = fields(vault.seal('secret', CTX));
    const ct = good.ct as string;
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const spareBitsSet = ct.slice(0, -1) + B64URL[B64URL.indexOf(ct.at(-1)!) ^ 1];
    expect(Buffer.from(spareBitsSet, 'base64url')).toEqual(Buffer.from(ct, 'base64url'));
    const wrong: unknown[] = [
      '',
      'null',
      '[]',
      '{}',
      '"x"',
      '1',
      '{"v":1}',
      JSON.stringify([good]),
      rebuild({ ...good, extra: 1 }),
      rebuild({ v: good.v, kid: good.kid, alg: good.alg, nonce: good.nonce }),
      `{"__proto__":{"x":1},${JSON.stringify(good).slice(1)}`,
      rebuild({ ...good, kid: '' }),
      rebuild({ ...good, kid: 'k1/../k2' }),
      rebuild({ ...good, kid: 'k'.repeat(65) }),
      rebuild({ ...good, nonce: Buffer.alloc(8).toString('base64url') }),
      rebuild({ ...good, nonce: `${good.nonce}==` }),
      rebuild({ ...good, nonce: `${'A'.repeat(15)}+` }),
      rebuild({ ...good, ct: Buffer.alloc(15).toString('base64url') }),
      rebuild({ ...good, ct: `${ct} ` }),
      rebuild({ ...good, ct: spareBitsSet }),
      'x'.repeat(70_000),
      rebuild({ ...good, ct: 'A'.repeat(2_000_000) }),
      undefined,
      null,
      42,
      { ...good },
    ];
    for (const input of wrong) expectMalformed(input);
  });

  it('a throwing event sink does not make open() throw', () => {
    const vault = createVault({
      keys: RING,
      onEvent: () => {
        throw new Error('sink down');
      },
    });
    expect(vault.open('garbage', CTX)).toBeNull();
  });

  it('works without an event sink', () => {
    const vault = createVault({ keys: RING });
    expect(vault.open('garbage', CTX)).toBeNull();
    expect(vault.open(vault.seal('a', CTX), { ...CTX, rowId: 'other' })).toBeNull();
  });

  it('refuses invalid contexts on open with reason "context"', () => {
    const { vault, events } = setup();
    const envelope = vault.seal('secret', CTX);
    const bad: unknown[] = [
      { ...CTX, table: '' },
      { ...CTX, rowId: 7 },
      { ...CTX, column: '\uD800' },
      { ...CTX, rowId: 'r'.repeat(1100) },
      null,
    ];
    for (const ctx of bad) {
      events.length = 0;
      expect(vault.open(envelope, ctx as SealContext)).toBeNull();
      expect(events).toEqual([{ type: 'vault.open_failed', reason: 'context', kid: 'k1' }]);
    }
  });
});

describe('vault: seal input checks', () => {
  it('throws on plaintext UTF-8 cannot carry, on oversize plaintext and on bad contexts', () => {
    const { vault } = setup();
    expect(() => vault.seal('\uDC00', CTX)).toThrow(TypeError);
    expect(() => vault.seal(42 as unknown as string, CTX)).toThrow(TypeError);
    expect(() => vault.seal('x'.repeat(32 * 1024 + 1), CTX)).toThrow(RangeError);
    for (const ctx of [
      { ...CTX, rowId: '' },
      { ...CTX, table: 'a\0' },
      { ...CTX, rowId: 'é'.repeat(600) },
    ]) {
      expect(() => vault.seal('x', ctx)).toThrow(TypeError);
    }
  });

  it('the largest allowed plaintext still opens (open accepts whatever seal produces)', () => {
    const { vault } = setup();
    const big = '€'.repeat(Math.floor((32 * 1024) / 3));
    expect(vault.open(vault.seal(big, CTX), CTX)).toBe(big);
  });
});

describe('vault: key ring and rotation (R26)', () => {
  it('a decrypt-only key opens but never seals', () => {
    const before = setup([{ kid: 'k2', key: KEK_2, status: 'primary' }]).vault;
    const old = before.seal('old secret', CTX);
    const { vault } = setup();
    expect(vault.open(old, CTX)).toBe('old secret');
    fc.assert(
      fc.property(plaintext, (text) => {
        expect(vault.kidOf(vault.seal(text, CTX))).toBe('k1');
      }),
      { numRuns: 200 },
    );
    expect(vault.sealCount('k2')).toBe(0);
  });

  it('a retired key → null and a retired_kid event; a removed key → unknown_kid', () => {
    const old = setup([{ kid: 'k-old', key: KEK_OLD, status: 'primary' }]).vault.seal('s', CTX);
    const retired = setup();
    expect(retired.vault.open(old, CTX)).toBeNull();
    expect(retired.events).toEqual([{ type: 'vault.open_failed', reason: 'retired_kid', kid: 'k-old' }]);
    const removed = setup([{ kid: 'k1', key: KEK_1, status: 'primary' }]);
    expect(removed.vault.open(old, CTX)).toBeNull();
    expect(removed.events).toEqual([{ type: 'vault.open_failed', reason: 'unknown_kid', kid: 'k-old' }]);
  });

  it('lists key statuses and the primary kid; returned lists are copies', () => {
    const { vault } = setup();
    expect(vault.primaryKid()).toBe('k1');
    const keys = vault.keys();
    expect(keys).toEqual([
      { kid: 'k1', status: 'primary' },
      { kid: 'k2', status: 'decrypt-only' },
      { kid: 'k-old', status: 'retired' },
    ]);
    keys[0]!.status = 'retired';
    expect(vault.keys()[0]!.status).toBe('primary');
  });

  it('copies key material: zeroing the caller’s buffer later changes nothing', () => {
    const key = generateVaultKey();
    const vault = createVault({ keys: [{ kid: 'k', key, status: 'primary' }] });
    const envelope = vault.seal('s', CTX);
    key.fill(0);
    expect(vault.open(envelope, CTX)).toBe('s');
    expect(vault.open(vault.seal('t', CTX), CTX)).toBe('t');
  });

  it('validates the ring at construction without echoing key material', () => {
    const k = () => generateVaultKey();
    const shared = k();
    const bad: [VaultKeyConfig[], RegExp][] = [
      [[], /at least one key/],
      [[{ kid: 'a', key: k(), status: 'decrypt-only' }], /exactly one primary key is required, found 0/],
      [
        [
          { kid: 'a', key: k(), status: 'primary' },
          { kid: 'b', key: k(), status: 'primary' },
        ],
        /found 2/,
      ],
      [[{ kid: 'a b', key: k(), status: 'primary' }], /invalid kid/],
      [[{ kid: 'x'.repeat(65), key: k(), status: 'primary' }], /invalid kid/],
      [
        [
          { kid: 'a', key: k(), status: 'primary' },
          { kid: 'a', key: k(), status: 'retired' },
        ],
        /appears more than once/,
      ],
      [[{ kid: 'a', key: Buffer.alloc(31, 7), status: 'primary' }], /exactly 32 bytes/],
      [[{ kid: 'a', key: 'k'.repeat(32) as unknown as Buffer, status: 'primary' }], /exactly 32 bytes/],
      [[{ kid: 'a', key: k(), status: 'active' as 'primary' }], /invalid status/],
      [
        [
          { kid: 'a', key: shared, status: 'primary' },
          { kid: 'b', key: Buffer.from(shared), status: 'decrypt-only' },
        ],
        /share the same key material/,
      ],
    ];
    for (const [keys, message] of bad) {
      let error: unknown;
      try {
        createVault({ keys });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(message);
      for (const { key } of keys) {
        if (!Buffer.isBuffer(key)) continue;
        expect((error as Error).message).not.toContain(key.toString('base64').slice(0, 12));
        expect((error as Error).message).not.toContain(key.toString('hex').slice(0, 12));
      }
    }
  });
});
