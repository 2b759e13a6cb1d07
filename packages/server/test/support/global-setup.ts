import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, migrateToLatest } from '../../src/storage/create-db.ts';

/**
 * Creating a PGlite database takes seconds (initdb in WASM). It is done once here, migrated, and
 * dumped; each test file loads the dump (about a second) instead of running initdb again.
 */
export default async function setup(): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'wxauth-test-'));
  const db = createDb({});
  await migrateToLatest(db);
  if (!db.dumpDataDir) throw new Error('not a PGlite database');
  const dump = await db.dumpDataDir();
  const file = join(dir, 'template.tar');
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  await db.close();
  process.env.WXAUTH_TEST_PGLITE_TEMPLATE = file;
  return () => rmSync(dir, { recursive: true, force: true });
}
