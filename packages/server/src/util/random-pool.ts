import { randomFillSync } from 'node:crypto';

/**
 * CSPRNG bytes drawn from a block that one randomFillSync refills: a login draws several small random
 * values (session id, refresh secret, access-token jti, vault nonce). On a quiet core a randomBytes(16)
 * took 1.4 µs and a slice of the block 0.2 µs; the server's CPU profile under load charged 14–20 µs to
 * each randomBytes call. Each draw is copied out, and the block is refilled before any of its bytes
 * could be handed out a second time.
 */
export function createRandomPool(blockBytes = 4096) {
  if (!Number.isSafeInteger(blockBytes) || blockBytes < 64) {
    throw new RangeError('random pool: the block must be at least 64 bytes');
  }
  // Buffer.alloc, not allocUnsafe: the block must not live in Node's shared allocation slab.
  const block = Buffer.alloc(blockBytes);
  let offset = blockBytes;
  return {
    /** `n` fresh random bytes, in a buffer of their own. */
    bytes(n: number): Buffer {
      if (!Number.isSafeInteger(n) || n < 1 || n > blockBytes) {
        throw new RangeError(`random pool: can draw 1 to ${blockBytes} bytes, not ${n}`);
      }
      if (offset + n > blockBytes) {
        randomFillSync(block);
        offset = 0;
      }
      const out = Buffer.from(block.subarray(offset, offset + n));
      offset += n;
      return out;
    },
  };
}

export type RandomPool = ReturnType<typeof createRandomPool>;
