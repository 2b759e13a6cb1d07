import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HARNESS_NODE_FLAGS } from './children.ts';

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

test('npm run bench starts the runner (the load generator) with the harness flags', () => {
  const pkg = JSON.parse(readFileSync(here('../../../../package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts.bench!;
  assert.match(script, /bench\/run\.ts/);
  for (const flag of HARNESS_NODE_FLAGS) assert.ok(script.includes(flag), `${flag} missing from "${script}"`);
});

test('a process started with the harness flags can collect on demand; one without cannot', () => {
  const probe = `import { canCollectGarbage, collectGarbage } from ${JSON.stringify(here('./harness-gc.ts'))};
collectGarbage(); process.stdout.write(String(canCollectGarbage()));`;
  const run = (flags: string[]) =>
    execFileSync(process.execPath, [...flags, '--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.equal(run(HARNESS_NODE_FLAGS), 'true');
  assert.equal(run([]), 'false');
});
