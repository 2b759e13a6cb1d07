import { randomInt } from 'node:crypto';

/**
 * Unique mainland-China mobiles for the whole run (+86 139 and 8 digits, which wxauth's
 * libphonenumber check accepts): SMS sends are limited to one per phone per 60 s, so every send in
 * S4 needs a phone of its own, across every system and round.
 */
let next = randomInt(0, 50_000_000);
export function nextPhone(): string {
  const n = next++ % 100_000_000;
  return `+86139${String(n).padStart(8, '0')}`;
}

/**
 * A different client address per request, sent as X-Forwarded-For (wxauth trusts it from loopback):
 * one load generator stands for many clients, so per-IP SMS limits (10 per 10 min) stay on and are
 * paid for, without measuring one address being refused.
 */
let ip = randomInt(0, 1 << 24);
export function nextClientIp(): string {
  ip = (ip + 1) % (1 << 24);
  return `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`;
}
