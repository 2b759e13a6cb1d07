import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, percentileSorted, ratio, summarize } from './stats.ts';

// Run with: node --test packages/server/bench/lib/*.test.ts (npm run bench:test)
test('median of odd and even counts, unsorted input', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('summarize ignores non-finite samples', () => {
  assert.deepEqual(summarize([5, Number.NaN, 1, 3]), { median: 3, min: 1, max: 5, n: 3 });
  assert.equal(summarize([]).n, 0);
});

test('nearest-rank percentiles', () => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentileSorted(hundred, 50), 50);
  assert.equal(percentileSorted(hundred, 99), 99);
  assert.equal(percentileSorted(hundred, 100), 100);
  assert.equal(percentileSorted([7], 99), 7);
  assert.ok(Number.isNaN(percentileSorted([], 50)));
});

test('ratio refuses a zero or missing denominator', () => {
  assert.equal(ratio(3, 4), 0.75);
  assert.ok(Number.isNaN(ratio(3, 0)));
  assert.ok(Number.isNaN(ratio(undefined, 2)));
  assert.ok(Number.isNaN(ratio(Number.NaN, 2)));
});
