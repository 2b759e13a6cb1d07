import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS, tuneV8 } from '../src/v8-tuning.ts';

describe('tuneV8', () => {
  it('turns allocation-site pretenuring off by default', () => {
    expect(tuneV8([])).toBe('--no-allocation-site-pretenuring');
    expect(tuneV8(['--enable-source-maps', '--max-old-space-size=512'])).toBe(
      '--no-allocation-site-pretenuring',
    );
  });

  it('leaves the flag alone when the operator set it either way on the command line', () => {
    expect(tuneV8(['--allocation-site-pretenuring'])).toBeNull();
    expect(tuneV8(['--no-allocation-site-pretenuring'])).toBeNull();
    expect(tuneV8(['--trace-gc', '--allocation_site_pretenuring'])).toBeNull();
    expect(tuneV8(['--no-allocation-site-pretenuring=true'])).toBeNull();
  });
});

describe('NODE_FLAGS', () => {
  it('are on every script that starts the server, so npm start runs as the bench measured', () => {
    const scripts = (path: string) =>
      (
        JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
          scripts: Record<string, string>;
        }
      ).scripts;
    const starts = [
      scripts('../../../package.json').start!,
      scripts('../package.json').start!,
      scripts('../package.json').dev!,
    ];
    for (const command of starts) {
      expect(command).toMatch(/main\.ts$/);
      for (const flag of NODE_FLAGS) expect(command.split(' ')).toContain(flag);
    }
  });
});
