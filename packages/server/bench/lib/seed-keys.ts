import { createHmac } from 'node:crypto';

/**
 * S6 seeds N users in the simulator and N identities in wxauth's database, in two processes. Both
 * derive user i's session_key from (seed, i), so neither has to ship N keys to the other.
 */
export function seededSessionKey(seed: string, i: number): string {
  return createHmac('sha256', seed).update(String(i)).digest().subarray(0, 16).toString('base64');
}

export function seededOpenid(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(7, '0')}`;
}
