import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createAccessTokenRepository } from '../../src/adapters/wechat/access-token.repository.ts';
import { generateKeySetJson, loadOrCreateDevKeys, parseKeySet } from '../../src/config/keys.ts';
import { createDb } from '../../src/storage/create-db.ts';
import { generateVaultKey } from '../../src/vault/keys.ts';
import { identitySessionKeyContext } from '../../src/vault/rotation/index.ts';
import { runKeysCommand } from '../../src/vault/rotation/keys-command.ts';
import { createVault } from '../../src/vault/vault.ts';
import { APP_ID } from '../support/harness.ts';
import { newSessionKey, readIdentities, sealIdentity } from './rotation-support.ts';

/**
 * The rotation CLI as an operator runs it: `node packages/server/src/cli/keys.ts …` in a child process,
 * on a dev-mode data dir (keys.json + PGlite), on WXAUTH_KEYS and on WXAUTH_KEYS_FILE.
 */
const CLI = new URL('../../src/cli/keys.ts', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Only the variables given: nothing from the test process's environment leaks into the CLI's config. */
function keys(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wxauth-rotation-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const statusesIn = (path: string) =>
  (JSON.parse(readFileSync(path, 'utf8')) as { vault: { kid: string; status: string }[] }).vault.map(
    ({ kid, status }) => `${kid}:${status}`,
  );

describe('keys CLI in a child process', () => {
  it('add → promote → rewrap → retire on a dev data dir, then status', {
    timeout: 90_000,
  }, async () => {
    const dataDir = tempDir();
    const env = { WXAUTH_DATA_DIR: dataDir, WXAUTH_LOG_LEVEL: 'warn' };
    const { keys: keySet, path: keyFile } = await loadOrCreateDevKeys(dataDir);
    const first = keySet.vault[0]!.kid;

    // A data dir as the dev server leaves it: 25 logins and the app's access token under the first
    // key, plus one row sealed with a key this key set never had (restored from elsewhere, say).
    const template = readFileSync(process.env.WXAUTH_TEST_PGLITE_TEMPLATE!);
    let db = createDb({ dataDir: join(dataDir, 'pglite'), loadDataDir: new Blob([template]) });
    const vault = createVault({ keys: keySet.vault });
    const plain = new Map<string, string>();
    for (let i = 0; i < 25; i++) {
      const openid = `oCli${String(i).padStart(3, '0')}`;
      plain.set(openid, newSessionKey());
      await sealIdentity(db.kysely, vault, { appId: APP_ID, openid, sessionKey: plain.get(openid)! });
    }
    const tokens = createAccessTokenRepository({ db: db.kysely, vault });
    await tokens.ensureRow(APP_ID);
    await tokens.tryAcquireLease(APP_ID, 'dev', Date.now(), 60_000);
    await tokens.saveToken(APP_ID, 'dev', {
      token: 'AT-cli',
      expiresAt: Date.now() + 7_200_000,
      fetchedAt: Date.now(),
    });
    const foreign = createVault({ keys: [{ kid: 'vgone', key: generateVaultKey(), status: 'primary' }] });
    const lostKey = newSessionKey();
    const orphan = await sealIdentity(db.kysely, foreign, {
      appId: APP_ID,
      openid: 'oOrphan',
      sessionKey: lostKey,
    });
    await db.close();

    const added = await keys(['add', '--kid', 'v-next'], env);
    expect(added).toMatchObject({ code: 0 });
    expect(added.stdout).toContain('Added vault key "v-next" as decrypt-only');
    expect(added.stdout).toContain('`keys promote v-next`');
    expect(statusesIn(keyFile)).toEqual([`${first}:primary`, 'v-next:decrypt-only']);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir).sort()).toEqual(['keys.json', 'pglite']);

    const promoted = await keys(['promote', 'v-next'], env);
    expect(promoted).toMatchObject({ code: 0 });
    expect(promoted.stdout).toContain(`"v-next" is now the primary key; "${first}" is decrypt-only`);
    expect(statusesIn(keyFile)).toEqual([`${first}:decrypt-only`, 'v-next:primary']);

    // In-process (same command, same data dir) only to save a child process's PGlite start-up.
    const refused = await keysInProcess(['retire', first], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`26 stored row(s) are still sealed with "${first}"`);
    expect(statusesIn(keyFile)).toEqual([`${first}:decrypt-only`, 'v-next:primary']);

    const rewrap = await keys(['rewrap', '--batch', '7'], env);
    expect(rewrap.code).toBe(0);
    expect(rewrap.stdout).toContain('Re-sealing with "v-next" in batches of 7.');
    for (const scanned of [7, 14, 21, 26])
      expect(rewrap.stdout).toContain(`wechat_identities: ${scanned} scanned`);
    expect(rewrap.stdout).toContain('wechat_access_tokens: 1 scanned, 1 rewrapped');
    expect(rewrap.stdout).toMatch(
      /pass 1: 26 rewrapped, 1 unreadable, 0 changed by a concurrent write, 1 not on "v-next"/,
    );
    expect(rewrap.stdout).toContain(
      'unreadable: 1 row(s) in wechat_identities sealed with "vgone" (unknown_kid)',
    );
    expect(rewrap.stdout).toContain(
      'Done: every readable row is sealed with "v-next"; 1 unreadable row(s) remain.',
    );
    // The vault's fail-closed event (R27) reached the log; the session key never did.
    expect(rewrap.stderr).toContain('vault.open_failed');
    for (const text of [rewrap.stdout, rewrap.stderr]) {
      expect(text).not.toContain(lostKey);
      expect(text).not.toContain(plain.get('oCli000'));
    }

    const retired = await keys(['retire', first], env);
    expect(retired.code).toBe(0);
    expect(retired.stdout).toContain(`Retired "${first}"`);
    expect(statusesIn(keyFile)).toEqual([`${first}:retired`, 'v-next:primary']);

    const final = await keys(['status'], env);
    expect(final.code).toBe(0);
    expect(final.stdout).toContain(`Key set: ${keyFile}`);
    expect(final.stdout).toMatch(/kid\s+status\s+wechat_identities\s+wechat_access_tokens/);
    expect(final.stdout).toMatch(new RegExp(`${first}\\s+retired\\s+0\\s+0\\n`));
    expect(final.stdout).toMatch(/v-next\s+primary\s+25\s+1\n/);
    expect(final.stdout).toMatch(/vgone\s+unknown\s+1\s+0\n/);
    expect(final.stdout).toMatch(/- 1 row\(s\) are sealed with "vgone".*fail closed/);

    // What the server would now load opens every row but the orphan, which is byte-for-byte untouched.
    const finalVault = createVault({ keys: parseKeySet(JSON.parse(readFileSync(keyFile, 'utf8'))).vault });
    db = createDb({ dataDir: join(dataDir, 'pglite') });
    try {
      for (const row of await readIdentities(db.kysely)) {
        if (row.openid === 'oOrphan') {
          expect(row).toMatchObject({ session_key_enc: orphan, session_key_kid: 'vgone' });
          expect(
            finalVault.open(row.session_key_enc!, identitySessionKeyContext(APP_ID, row.openid)),
          ).toBeNull();
          continue;
        }
        expect(row.session_key_kid).toBe('v-next');
        expect(finalVault.open(row.session_key_enc!, identitySessionKeyContext(APP_ID, row.openid))).toBe(
          plain.get(row.openid),
        );
      }
      expect(
        await createAccessTokenRepository({ db: db.kysely, vault: finalVault }).findByAppId(APP_ID),
      ).toMatchObject({ token: 'AT-cli', unreadable: false });
      // The security event was persisted for operators (auth_events), with the kid and no secret.
      const events = await db.kysely
        .selectFrom('auth_events')
        .select(['type', 'outcome', 'reason', 'detail'])
        .where('type', '=', 'vault.open_failed')
        .execute();
      expect(events).toEqual([
        { type: 'vault.open_failed', outcome: 'critical', reason: 'unknown_kid', detail: { kid: 'vgone' } },
      ]);
    } finally {
      await db.close();
    }
  });
});

/** The same command in-process, for the cases that need no database: a child process costs seconds. */
async function keysInProcess(args: string[], env: Record<string, string>): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        append(chunk.toString());
        callback();
      },
    });
  const code = await runKeysCommand(args, {
    env,
    stdout: sink((t) => {
      stdout += t;
    }),
    stderr: sink((t) => {
      stderr += t;
    }),
  });
  return { code, stdout, stderr };
}

describe('keys command without a database', () => {
  it('with WXAUTH_KEYS it prints the changed key set for the secrets manager and writes nothing', async () => {
    const dataDir = tempDir();
    const json = await generateKeySetJson();
    const env = {
      WXAUTH_DATA_DIR: dataDir,
      WXAUTH_APPS: JSON.stringify([{ appId: APP_ID, secret: 's' }]),
      WXAUTH_KEYS: json,
      WXAUTH_LOG_LEVEL: 'warn',
    };
    const first = JSON.parse(json).vault[0].kid;
    const added = await keysInProcess(['add'], env);
    expect(added.code).toBe(0);
    const next = JSON.parse(added.stdout);
    const kid = next.vault[1].kid;
    expect(kid).toMatch(/^v\d{8}-[0-9a-f]{4}$/);
    expect(next.vault.map((k: { status: string }) => k.status)).toEqual(['primary', 'decrypt-only']);
    for (const field of ['jwt', 'refreshPepper', 'otpPepper'])
      expect(next[field]).toEqual(JSON.parse(json)[field]);
    expect(added.stderr).toContain('as WXAUTH_KEYS in your secrets manager');
    expect(readdirSync(dataDir)).toEqual([]);

    const promoted = await keysInProcess(['promote', kid], { ...env, WXAUTH_KEYS: added.stdout });
    expect(promoted.code).toBe(0);
    expect(
      JSON.parse(promoted.stdout).vault.map((k: { kid: string; status: string }) => `${k.kid}:${k.status}`),
    ).toEqual([`${first}:decrypt-only`, `${kid}:primary`]);
    const again = await keysInProcess(['promote', kid], { ...env, WXAUTH_KEYS: promoted.stdout });
    expect(again).toMatchObject({ code: 0, stdout: '' });
    expect(again.stderr).toContain('already the primary key; nothing changed');

    const unknown = await keysInProcess(['promote', 'nope'], env);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toContain('no vault key with kid "nope"');
    // No key material in anything the command wrote, except the key set it was asked to print.
    for (const text of [added.stderr, promoted.stderr, unknown.stderr]) {
      expect(text).not.toContain(next.vault[0].key.slice(0, 16));
      expect(text).not.toContain(next.vault[1].key.slice(0, 16));
    }
  });

  it('with WXAUTH_KEYS_FILE it rewrites that file; refusals and bad usage change nothing', async () => {
    const dir = tempDir();
    const keyFile = join(dir, 'wxauth-keys.json');
    const json = await generateKeySetJson();
    writeFileSync(keyFile, json, { mode: 0o640 });
    const env = {
      WXAUTH_DATA_DIR: join(dir, 'data'),
      WXAUTH_APPS: JSON.stringify([{ appId: APP_ID, secret: 's' }]),
      WXAUTH_KEYS_FILE: keyFile,
      WXAUTH_LOG_LEVEL: 'warn',
    };
    const first = JSON.parse(json).vault[0].kid;

    const primary = await keysInProcess(['retire', first], env);
    expect(primary.code).toBe(1);
    expect(primary.stderr).toContain(`"${first}" is the primary key`);
    const usage = await keysInProcess(['rotate'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown command "rotate"');
    expect(usage.stderr).toContain('usage:');
    for (const args of [
      ['rewrap', '--batch', 'lots'],
      ['add', '--force'],
      ['retire'],
      ['promote', 'a', 'b'],
    ]) {
      expect((await keysInProcess(args, env)).code).toBe(2);
    }
    const noDb = await keysInProcess(['status'], env);
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toContain('no database');
    const noKeys = await keysInProcess(['status'], { WXAUTH_DATA_DIR: join(dir, 'empty') });
    expect(noKeys.code).toBe(1);
    expect(noKeys.stderr).toContain('dev mode creates it on the first start');
    expect(readFileSync(keyFile, 'utf8')).toBe(json);

    const added = await keysInProcess(['add', '--kid', 'v2'], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`Wrote ${keyFile}.`);
    expect(statusesIn(keyFile)).toEqual([`${first}:primary`, 'v2:decrypt-only']);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const again = await keysInProcess(['add', '--kid', 'v2'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('kids are never reused');

    const printed = await keysInProcess(['promote', 'v2', '--stdout'], env);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout).vault[1]).toMatchObject({ kid: 'v2', status: 'primary' });
    expect(statusesIn(keyFile)).toEqual([`${first}:primary`, 'v2:decrypt-only']);

    const generated = await keysInProcess(['generate'], {});
    expect(generated.code).toBe(0);
    expect(parseKeySet(JSON.parse(generated.stdout)).vault).toHaveLength(1);

    const help = await keysInProcess(['--help'], env);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('retire <kid>');
  });
});
