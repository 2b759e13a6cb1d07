import { describe, expect, it } from 'vitest';
import { tuneV8 } from '../src/v8-tuning.ts';

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
