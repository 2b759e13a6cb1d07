import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.ts';

/**
 * The SDK lists the server's error codes in its `ServerErrorCode` type for autocompletion. It must
 * not import server code, so this test keeps the copy honest: a new code in src/errors.ts needs a line
 * in packages/client/src/errors.ts too.
 */
describe('client error codes', () => {
  it('ServerErrorCode in the SDK lists exactly the server registry', () => {
    const source = readFileSync(new URL('../../../client/src/errors.ts', import.meta.url), 'utf8');
    const block = /export type ServerErrorCode =([\s\S]*?);/.exec(source)?.[1] ?? '';
    const listed = [...block.matchAll(/\|\s*'([a-z_]+)'/g)].map((m) => m[1]).sort();
    expect(listed, 'update ServerErrorCode in packages/client/src/errors.ts').toEqual(
      Object.keys(ERROR_CODES).sort(),
    );
  });
});
