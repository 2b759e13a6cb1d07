import { randomBytes } from 'node:crypto';
import type { Counter, Gauge } from 'prom-client';
import { AppError } from '../../../src/errors.ts';
import { createLogger, type Logger } from '../../../src/observability/logger.ts';

/** A debug-level logger whose lines a test can read back (and scan for leaked secrets, R2). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void lines.push(line) },
  });
  return { logger, lines };
}

/** Sum of a counter or gauge over the series matching `labels`. */
export async function metricValue<T extends string>(
  metric: Counter<T> | Gauge<T>,
  labels: Partial<Record<T, string>> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k as T] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A fresh, sim-valid appId (wx + 16 hex) so each test owns its access-token row and sim app. */
export function newAppId(): string {
  return `wx${randomBytes(8).toString('hex')}`;
}

/** The AppError a promise rejects with (fails the test when it resolves or throws something else). */
export async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}
