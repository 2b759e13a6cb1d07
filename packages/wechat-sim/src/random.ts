import { createHash, randomBytes } from 'node:crypto';

/** A source of random bytes and the identifier shapes WeChat uses. */
export interface RandomSource {
  bytes(n: number): Buffer;
  /** Uniform float in [0, 1). */
  float(): number;
  /** n chars of [A-Za-z0-9]. */
  alnum(n: number): string;
  /** n chars of [A-Za-z0-9_-]. */
  urlSafe(n: number): string;
  /** n lowercase hex chars. */
  hex(n: number): string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const URL_SAFE = `${ALNUM}-_`;

/**
 * Without a seed: node:crypto. With a seed: SHA-256 in counter mode over (seed, stream name), so every
 * stream is reproducible on its own and one stream's consumption never shifts another's (latency samples
 * or rids cannot change which codes a seeded run issues).
 */
export function createRandom(seed: number | string | undefined, stream: string): RandomSource {
  const source = seed === undefined ? randomBytes : seededBytes(`${String(seed)}\u0000${stream}`);
  return {
    bytes: source,
    float: () => source(6).readUIntBE(0, 6) / 2 ** 48,
    alnum: (n) => pick(source, ALNUM, n),
    urlSafe: (n) => pick(source, URL_SAFE, n),
    hex: (n) =>
      source(Math.ceil(n / 2))
        .toString('hex')
        .slice(0, n),
  };
}

function seededBytes(key: string): (n: number) => Buffer {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    while (pool.length < n) {
      const block = createHash('sha256').update(key).update(String(counter++)).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return Buffer.from(out);
  };
}

/** Rejection sampling keeps every character equally likely whatever the alphabet size. */
function pick(source: (n: number) => Buffer, alphabet: string, n: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < n) {
    for (const byte of source(n - out.length + 8)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === n) break;
    }
  }
  return out;
}
