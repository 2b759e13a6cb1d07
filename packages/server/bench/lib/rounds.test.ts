import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PhaseResult } from './load.ts';
import { type Contender, interleave, openRateFor } from './rounds.ts';

const phase: PhaseResult = { ok: 1, seconds: 1, rps: 1, p50: 1, p99: 1, cpuPerOp: null, errors: 0 };

test('every contender runs once per round, and each round starts one further along', async () => {
  const ran: string[] = [];
  const contender = (id: string): Contender => ({
    id,
    run: async (seconds) => {
      ran.push(`${id}${seconds}`);
      return phase;
    },
  });
  const samples = await interleave(
    [contender('a'), contender('b'), contender('c')],
    { warmupSec: 5, roundSec: 1, rounds: 4 },
    () => {},
  );
  const warmUp = ['a5', 'b5', 'c5'];
  const rounds = [
    ['a1', 'b1', 'c1'],
    ['b1', 'c1', 'a1'],
    ['c1', 'a1', 'b1'],
    ['a1', 'b1', 'c1'],
  ];
  assert.deepEqual(ran, [...warmUp, ...rounds.flat()]);
  for (const id of ['a', 'b', 'c']) assert.equal(samples.get(id)!.phases.length, 4);
});

test('an open loop runs at the common rate, or at half of a slower contender’s own closed-loop median', () => {
  const ceiling = (...rps: number[]) => ({ phases: rps.map((r) => ({ ...phase, rps: r })) });
  // Faster than twice the common rate: the common rate.
  assert.equal(openRateFor(629, ceiling(1_900, 1_800, 2_000)), 629);
  // Slower: half of its median ceiling (262 → 131), not of its best or worst round.
  assert.equal(openRateFor(374, ceiling(211, 349, 262)), 131);
  // Never measured (it failed or is unavailable): the common rate; never below 10/s.
  assert.equal(openRateFor(374, undefined), 374);
  assert.equal(openRateFor(374, ceiling(4)), 10);
});
