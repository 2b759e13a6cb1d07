import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeGoals } from './goals.ts';

const verdict = (metrics: Parameters<typeof judgeGoals>[0], goal: string) =>
  judgeGoals(metrics).find((g) => g.goal.startsWith(goal))!;

test('a ratio goal is judged against its must and aim', () => {
  assert.equal(verdict({ 'S0.vsFastify': 0.98 }, 'app bare').status, 'aim met');
  assert.equal(verdict({ 'S0.vsFastify': 0.92 }, 'app bare').status, 'must met');
  assert.equal(verdict({ 'S0.vsFastify': 0.5 }, 'app bare').status, 'not met');
  assert.equal(verdict({ 'S0.vsFastify': Number.NaN }, 'app bare').status, 'not measured');
  assert.equal(verdict({}, 'app bare').status, 'not measured');
});

test('S1 needs both the throughput ratio and the overhead p99', () => {
  assert.equal(
    verdict({ 'S1.vsFloor': 0.9, 'S1.overheadP99': 4 }, 'WeChat login vs the hand').status,
    'aim met',
  );
  assert.equal(
    verdict({ 'S1.vsFloor': 0.9, 'S1.overheadP99': 20 }, 'WeChat login vs the hand').status,
    'not met',
  );
  assert.equal(verdict({ 'S1.vsFloor': 0.9 }, 'WeChat login vs the hand').status, 'not measured');
});

test('an S6 job stopped at its cap never meets the goal', () => {
  const done = { 'S6.wallOverNR': 1.02, 'S6.overLimit': 0, 'S6.p99Ratio': 1.1, 'S6.completed': 1 };
  assert.equal(verdict(done, 'session-key').status, 'aim met');
  assert.equal(verdict({ ...done, 'S6.overLimit': 3 }, 'session-key').status, 'must met');
  const capped = verdict({ ...done, 'S6.wallOverNR': 2, 'S6.completed': 0 }, 'session-key');
  assert.equal(capped.status, 'not met');
  assert.match(capped.value, /^≥ 2\.00×/);
});

test('S7 is judged in milliseconds', () => {
  assert.equal(verdict({ 'S7.readyExistingMs': 700 }, 'ready with').status, 'aim met');
  assert.equal(verdict({ 'S7.readyExistingMs': 1_400 }, 'ready with').status, 'must met');
  assert.equal(verdict({ 'S7.readyExistingMs': 1_600 }, 'ready with').status, 'not met');
});
