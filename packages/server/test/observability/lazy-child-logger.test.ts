import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { lazyChildLogger } from '../../src/observability/lazy-child-logger.ts';
import { createLogger } from '../../src/observability/logger.ts';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}

describe('lazy per-request child logger', () => {
  it('builds no pino child for a level that is off, and writes nothing', () => {
    const { logger, lines } = capture('warn');
    const child = vi.spyOn(logger, 'child');
    const lazy = lazyChildLogger(logger, { reqId: 'r-1' });
    lazy.info({ path: '/x' }, 'incoming');
    lazy.debug('details');
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
    expect(lazy.level).toBe('warn');
    expect(lazy.isLevelEnabled('info')).toBe(false);
  });

  it('writes an enabled level with its bindings, redaction still applied, and builds the child once', () => {
    const { logger, lines } = capture('warn');
    const child = vi.spyOn(logger, 'child');
    const lazy = lazyChildLogger(logger, { reqId: 'r-2' });
    lazy.warn({ code: 'js-code-1', status: 400 }, 'failed');
    lazy.error('again');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ reqId: 'r-2', status: 400, code: '[redacted]', msg: 'failed' });
    expect(lines[1]).toMatchObject({ reqId: 'r-2', msg: 'again', level: 50 });
  });

  it('a grandchild carries both sets of bindings; setting a level builds the child', () => {
    const { logger, lines } = capture('info');
    const lazy = lazyChildLogger(logger, { reqId: 'r-3' });
    lazy.child({ component: 'x' }).info('hello');
    expect(lines[0]).toMatchObject({ reqId: 'r-3', component: 'x', msg: 'hello' });
    lazy.level = 'error';
    lazy.warn('dropped');
    expect(lines).toHaveLength(1);
    expect(logger.level).toBe('info');
  });

  it('a requested level gives a real child at once', () => {
    const { logger, lines } = capture('warn');
    const lazy = lazyChildLogger(logger, { reqId: 'r-4' }, { level: 'info' });
    lazy.info('shown');
    expect(lines[0]).toMatchObject({ reqId: 'r-4', msg: 'shown' });
  });
});
