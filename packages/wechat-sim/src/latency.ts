import type { RandomSource } from './random.ts';
import type { SimLatencyDistribution } from './types.ts';
import { SimInputError } from './validate.ts';

/** z-score of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263;
const DEFAULT_TAIL_MS: [number, number] = [1000, 3000];

/**
 * Returns a sampler of per-response latency in ms. WeChat publishes no latency figures; users report
 * ~600 ms typical with multi-second stalls (performance.md §0), so the distribution is configurable:
 * log-normal through (median, p99), plus an optional uniform tail for stalls.
 */
export function createLatency(
  option: number | SimLatencyDistribution | undefined,
  random: RandomSource,
): () => number {
  if (option === undefined) return () => 0;
  if (typeof option === 'number') {
    if (!Number.isFinite(option) || option < 0) throw new SimInputError('latencyMs must be >= 0');
    return () => option;
  }
  const { median, p99 } = option;
  const tailProbability = option.tailProbability ?? 0;
  const [tailMin, tailMax] = option.tailMs ?? DEFAULT_TAIL_MS;
  if (!(median >= 0 && p99 >= median && tailProbability >= 0 && tailProbability <= 1 && tailMax >= tailMin)) {
    throw new SimInputError(
      'latencyMs needs 0 <= median <= p99, 0 <= tailProbability <= 1, tailMs [min, max]',
    );
  }
  if (median === 0) return () => 0;
  const sigma = Math.log(p99 / median) / Z99;
  return () => {
    if (tailProbability > 0 && random.float() < tailProbability) {
      return tailMin + random.float() * (tailMax - tailMin);
    }
    // Box–Muller; 1 - float() keeps the logarithm's argument in (0, 1].
    const normal = Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float());
    return median * Math.exp(sigma * normal);
  };
}
