import { describe, expect, it } from 'vitest';
import { createLatency } from '../src/latency.ts';
import { createRandom } from '../src/random.ts';

const quantile = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;

describe('latency distribution', () => {
  it('is log-normal through the given median and p99, deterministic for a seed', () => {
    const sample = createLatency({ median: 50, p99: 300 }, createRandom(1, 'latency'));
    const values = Array.from({ length: 20_000 }, sample).sort((a, b) => a - b);
    expect(quantile(values, 0.5)).toBeGreaterThan(45);
    expect(quantile(values, 0.5)).toBeLessThan(55);
    expect(quantile(values, 0.99)).toBeGreaterThan(250);
    expect(quantile(values, 0.99)).toBeLessThan(360);
    const again = createLatency({ median: 50, p99: 300 }, createRandom(1, 'latency'));
    const replay = Array.from({ length: 20_000 }, again).sort((a, b) => a - b);
    expect(replay).toEqual(values);
  });

  it('adds a uniform tail with the given probability', () => {
    const sample = createLatency(
      { median: 10, p99: 20, tailProbability: 0.1, tailMs: [1000, 3000] },
      createRandom(2, 'latency'),
    );
    const values = Array.from({ length: 10_000 }, sample);
    const tail = values.filter((v) => v >= 1000);
    expect(tail.length / values.length).toBeGreaterThan(0.08);
    expect(tail.length / values.length).toBeLessThan(0.12);
    expect(Math.max(...tail)).toBeLessThanOrEqual(3000);
  });

  it('rejects inconsistent settings', () => {
    expect(() => createLatency({ median: 50, p99: 10 }, createRandom(1, 'x'))).toThrow('latencyMs');
    expect(() => createLatency(-1, createRandom(1, 'x'))).toThrow('latencyMs');
  });
});
