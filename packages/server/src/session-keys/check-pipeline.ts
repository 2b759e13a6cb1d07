import type { Clock } from '../clock.ts';
import type { RowResult } from './check-row.ts';
import type { CheckOutcome, ClaimedKey } from './session-keys.repository.ts';

/** Lanes a worker starts with; each finished call opens one more, up to the worker's lane count. */
const SLOW_START = 16;

/** A lease with less than this left is renewed before the next call: one call may take 3 s (R3). */
const LEASE_MARGIN_MS = 5_000;

/** The rows of one claim that this worker still holds, and until when. */
interface Claim {
  open: Map<string, ClaimedKey>;
  leaseUntil: number;
  renewing: Promise<void> | null;
}

const rowId = (k: ClaimedKey) => `${k.appId}:${k.openid}`;

/**
 * The worker's rows from claim to record, with no barrier between claims: up to `lanes` calls run at
 * once, a lane takes the next row as soon as its last result is durable, and the worker claims more
 * while rows are still in flight. (Batches that waited for their slowest call held the whole job to
 * the 1 % of calls that take seconds.) A lane waits for its row's result to be durable before its next
 * call, so a kill -9 can leave at most one checked-but-unrecorded row per lane.
 */
export function createCheckPipeline(deps: {
  clock: Clock;
  leaseMs: number;
  /** Calls WeChat for one row (paced by the caller), after `holdLease` says the row is still ours. */
  check(key: ClaimedKey, holdLease: () => Promise<boolean>): Promise<RowResult>;
  /** Makes the outcome durable; false when the row was no longer this worker's. */
  record(key: ClaimedKey, outcome: CheckOutcome): Promise<boolean>;
  /** Counts an outcome that was recorded. */
  counted(outcome: CheckOutcome): void;
  renew(keys: ClaimedKey[], until: number): Promise<Set<string>>;
  release(keys: ClaimedKey[]): Promise<void>;
  stopped(): boolean;
}) {
  const { clock } = deps;
  const claims = new Set<Claim>();
  const queue: { key: ClaimedKey; claim: Claim }[] = [];
  let lanes = 1;
  /**
   * Lanes open gradually, like TCP's slow start: one more per call finished. Opening hundreds at once
   * would open as many new connections to WeChat at once, and the calls waiting on them (already paced)
   * would arrive together, late, in the next second's count.
   */
  let opened = SLOW_START;
  let active = 0;
  let failure: { err: unknown } | null = null;
  /** Woken whenever a lane takes a row or ends, so the claimer can check its marks again. */
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const halted = () => failure !== null || deps.stopped();

  async function ensureLease(claim: Claim): Promise<void> {
    if (claim.leaseUntil - clock.now() > LEASE_MARGIN_MS) return;
    claim.renewing ??= (async () => {
      const until = clock.now() + deps.leaseMs;
      const held = await deps.renew([...claim.open.values()], until);
      for (const id of claim.open.keys()) if (!held.has(id)) claim.open.delete(id);
      if (claim.open.size === 0) claims.delete(claim);
      claim.leaseUntil = until;
    })().finally(() => {
      claim.renewing = null;
    });
    await claim.renewing;
  }

  async function lane(): Promise<void> {
    for (let next = queue.shift(); next && !halted(); next = queue.shift()) {
      notify();
      const { key, claim } = next;
      const held = async () => {
        await ensureLease(claim);
        return claim.open.has(rowId(key));
      };
      if (!(await held())) continue; // the lease lapsed and another worker owns the row now
      const result = await deps.check(key, held);
      if (result === 'lost') continue; // the same, found after the pacing wait
      if (result === 'retry') {
        queue.unshift(next);
        continue;
      }
      if (result === 'stop') break;
      const recorded = await deps.record(key, result);
      claim.open.delete(rowId(key));
      if (claim.open.size === 0) claims.delete(claim);
      if (recorded) deps.counted(result);
      if (opened < lanes) {
        opened++;
        fill();
      }
    }
  }

  function fill(): void {
    while (active < Math.min(lanes, opened) && queue.length > 0 && !halted()) spawn();
  }

  function spawn(): void {
    active++;
    lane()
      .catch((err: unknown) => {
        failure ??= { err };
      })
      .finally(() => {
        active--;
        notify();
      });
  }

  const changed = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });

  return {
    /** How many calls may run at once; takes effect as lanes start. */
    setLanes(n: number): void {
      lanes = Math.max(1, n);
    },
    add(batch: readonly ClaimedKey[], leaseUntil: number): void {
      const claim: Claim = { open: new Map(batch.map((k) => [rowId(k), k])), leaseUntil, renewing: null };
      claims.add(claim);
      for (const key of batch) queue.push({ key, claim });
      fill();
    },
    /** Resolves once fewer than `mark` rows wait for a lane, or the pipeline stops. */
    async below(mark: number): Promise<void> {
      while (queue.length >= mark && active > 0 && !halted()) await changed();
    },
    /** Resolves once every lane has ended (nothing in flight, nothing waiting). */
    async idle(): Promise<void> {
      while (active > 0) await changed();
    },
    busy: () => active > 0,
    /**
     * Ends the pipeline: waits for the lanes, gives back every row not processed (stop, abort, an
     * error) at once rather than when its lease ends, and rethrows a lane's error.
     */
    async close(): Promise<void> {
      while (active > 0) await changed();
      queue.length = 0;
      const unprocessed = [...claims].flatMap((c) => [...c.open.values()]);
      claims.clear();
      await deps.release(unprocessed);
      if (failure) throw failure.err;
    },
  };
}

export type CheckPipeline = ReturnType<typeof createCheckPipeline>;
