import type { BenchArgs } from './args.ts';

/** How long and how big every phase is; the only place the modes differ. */
export interface Profile {
  mode: BenchArgs['mode'];
  warmupSec: number;
  roundSec: number;
  rounds: number;
  /** Open-loop latency phases (no warm-up of their own: they follow the closed-loop phases). */
  openRoundSec: number;
  openRounds: number;
  /** Access tokens / sessions handed round by S2 and S3 load generators. */
  tokenPool: number;
  /** S6: identities scanned and the simulator's checksession cap (calls/s). */
  jobRows: number;
  jobRate: number;
  /** S7: logins before the "RSS after logins" reading, and start rounds per kind. */
  footprintLogins: number;
  startRounds: number;
}

export function profileFor(mode: BenchArgs['mode']): Profile {
  if (mode === 'quick') {
    return {
      mode,
      warmupSec: 1,
      roundSec: 1,
      rounds: 2,
      openRoundSec: 2,
      openRounds: 1,
      tokenPool: 100,
      jobRows: 5_000,
      jobRate: 500,
      footprintLogins: 1_000,
      startRounds: 1,
    };
  }
  return {
    mode,
    warmupSec: 5,
    roundSec: 10,
    rounds: 3,
    openRoundSec: 10,
    openRounds: 3,
    tokenPool: 1_000,
    jobRows: mode === 'long' ? 1_000_000 : 100_000,
    jobRate: 1_000,
    footprintLogins: mode === 'long' ? 100_000 : 20_000,
    startRounds: 3,
  };
}
