import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SMS_VARIABLES } from '../src/adapters/sms/create-sms-provider.ts';
import { VARIABLES } from '../src/config/config.schema.ts';
import { ERROR_CODES } from '../src/errors.ts';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

describe('docs stay in sync with the code', () => {
  it('docs/errors.md lists every error code with its status, and no other', () => {
    const doc = read('docs/errors.md');
    const rows = [...doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status])),
    );
  });

  it('docs/config.md documents every variable with its default', () => {
    const doc = read('docs/config.md');
    for (const v of [...VARIABLES, ...SMS_VARIABLES]) {
      expect(doc, v.name).toContain(`\`${v.name}\``);
      if ('default' in v) expect(doc, `${v.name} default`).toContain(`\`${v.default}\``);
    }
  });
});
