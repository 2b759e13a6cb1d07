import { expect } from 'vitest';

/** A request's outcome with its start and end times, so race tests can prove requests overlapped. */
export interface Timed {
  status: number;
  body: Record<string, unknown>;
  start: number;
  end: number;
}

export async function timedPost(
  base: string,
  path: string,
  payload: unknown,
  headers: Record<string, string> = {},
): Promise<Timed> {
  const start = performance.now();
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    start,
    end: performance.now(),
  };
}

/** Every request started before any of them finished. */
export function expectOverlap(results: Timed[]): void {
  const lastStart = Math.max(...results.map((r) => r.start));
  const firstEnd = Math.min(...results.map((r) => r.end));
  expect(lastStart).toBeLessThan(firstEnd);
}
