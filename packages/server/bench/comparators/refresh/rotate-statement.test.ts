import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindRotate, captureRotateStatement } from './rotate-statement.ts';

// The S3 floor runs whatever statement wxauth's repository runs; this fails loudly if that can no
// longer be captured (e.g. rotate stopped being one statement) rather than letting S3 measure nothing.
test("wxauth's rotate statement is captured with every input mapped", async () => {
  const statement = await captureRotateStatement();
  assert.match(statement.sql, /UPDATE sessions/i);
  const roles = new Set(statement.params.flatMap((p) => ('role' in p ? [p.role] : [])));
  for (const role of ['sessionId', 'generation', 'tokenHash', 'childHash', 'now'] as const) {
    assert.ok(roles.has(role), `parameter for ${role} not found`);
  }
  const now = new Date();
  const params = bindRotate(statement, {
    sessionId: 's1',
    generation: 3,
    tokenHash: Buffer.from('a'),
    childHash: Buffer.from('b'),
    now,
    idleUntil: new Date(now.getTime() + 1000),
  });
  assert.equal(params.length, statement.params.length);
  assert.ok(params.includes('s1') && params.includes(3) && params.includes(now));
});
