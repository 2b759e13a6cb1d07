/**
 * ECDSA P-256 signatures between DER (what node:crypto produces and takes fastest) and IEEE P1363
 * (r ‖ s, 32 bytes each, what JWS requires). node:crypto can do the conversion itself via
 * `dsaEncoding: 'ieee-p1363'`, but the options-object key path costs about twice the signature
 * (measured here: 51 µs against 26 µs a sign, 93 against 58 µs a verify).
 */
const SIZE = 32;

/** DER `SEQUENCE { INTEGER r, INTEGER s }` → r ‖ s. Throws on anything else (we made it ourselves). */
export function derToP1363(der: Buffer): Buffer {
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw new Error('not a DER ECDSA signature');
  const out = Buffer.alloc(2 * SIZE);
  let offset = 2;
  for (let part = 0; part < 2; part++) {
    if (der[offset] !== 0x02) throw new Error('not a DER ECDSA signature');
    const length = der[offset + 1]!;
    let start = offset + 2;
    let bytes = length;
    // A leading zero only keeps the INTEGER positive; the value itself is at most 32 bytes.
    while (bytes > SIZE && der[start] === 0) {
      start++;
      bytes--;
    }
    if (bytes > SIZE) throw new Error('not a P-256 signature');
    der.copy(out, part * SIZE + SIZE - bytes, start, start + bytes);
    offset += 2 + length;
  }
  return out;
}

function derInteger(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const trimmed = value.subarray(start);
  // A set high bit would read as negative: prefix a zero byte.
  const body = trimmed[0]! & 0x80 ? Buffer.concat([Buffer.of(0), trimmed]) : trimmed;
  return Buffer.concat([Buffer.of(0x02, body.length), body]);
}

/** r ‖ s (64 bytes) → DER. The caller has checked the length. */
export function p1363ToDer(signature: Buffer): Buffer {
  const r = derInteger(signature.subarray(0, SIZE));
  const s = derInteger(signature.subarray(SIZE));
  return Buffer.concat([Buffer.of(0x30, r.length + s.length), r, s]);
}
