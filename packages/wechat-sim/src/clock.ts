import { SimInputError } from './validate.ts';

export interface SimClock {
  /** Sim time in ms: the injected clock plus the offset. */
  now(): number;
  advance(ms: number): void;
}

/** The offset only moves forward, so sim time never runs backwards under the control API. */
export function createSimClock(base: () => number = Date.now): SimClock {
  let offset = 0;
  return {
    now: () => base() + offset,
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new SimInputError('advanceMs must be a finite number >= 0');
      offset += ms;
    },
  };
}
