import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { systemClock } from '../../clock.ts';
import { generateKeySetJson, parseKeySet } from '../../config/keys.ts';
import { type Config, ConfigError, loadConfig } from '../../config/load-config.ts';
import { type AuthEvent, createAuthEvents } from '../../observability/auth-events.ts';
import { createLogger, type Logger } from '../../observability/logger.ts';
import { createMetrics } from '../../observability/metrics.ts';
import type { Db } from '../../storage/create-db.ts';
import { generateVaultKey } from '../keys.ts';
import { createVault, type VaultEvent } from '../vault.ts';
import {
  addVaultKey,
  assertRetirable,
  countRowsWithKid,
  createRewrapJob,
  createRotationRepository,
  DEFAULT_REWRAP_BATCH,
  describeRotation,
  formatRotationStatus,
  KeyRotationError,
  type KeySetDocument,
  newVaultKid,
  promoteVaultKey,
  type RewrapResult,
  readKidUsage,
  retireVaultKey,
} from './index.ts';
import { type KeySource, readKeySource, resolveKeySource, writeKeyFileAtomic } from './key-file.ts';

/**
 * The `keys` command (cli/keys.ts is its entry point): the key set's rotation steps of R26 on the key
 * file or WXAUTH_KEYS, and the database checks and rewrap that go with them. Every step emits an audit
 * event (R28); messages name kids and counts, never key material.
 */
const USAGE = `usage: node packages/server/src/cli/keys.ts <command> [options]

  generate               print a new complete key set (to store as WXAUTH_KEYS)
  status [--json]        every vault key, the rows sealed with it, and the next rotation step
  add [--kid <kid>]      1. add a new vault key as decrypt-only; restart every instance with it
  promote <kid>          2. make <kid> the primary (the old one stays decrypt-only); restart every instance
  rewrap [--batch 100]   3. re-seal every stored row that is not sealed with the primary
  retire <kid>           4. retire <kid>; refused while any stored row still uses it

  --stdout               print the changed key set instead of writing the key file

The key set comes from WXAUTH_KEYS (then the changed set is always printed, for your secrets
manager), else WXAUTH_KEYS_FILE, else in dev mode $WXAUTH_DATA_DIR/keys.json. The database is
WXAUTH_DATABASE_URL, else the PGlite data dir $WXAUTH_DATA_DIR/pglite (stop the dev server first:
PGlite allows one process). See docs/operations/key-rotation.md.
`;

/** Stops a rewrap that cannot converge: some instance keeps sealing with an older key. */
const MAX_PASSES = 5;

/** A wrong invocation: usage goes to stderr, exit code 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

/** Where the command reads its environment and writes its output (a child process, or a test). */
export interface KeysCommandIo {
  env: Record<string, string | undefined>;
  stdout: Writable;
  stderr: Writable;
}

interface Cli {
  io: KeysCommandIo;
  config: Config;
  source: KeySource;
  doc: KeySetDocument;
  logger: Logger;
  print: boolean;
  /** Pending auth-event writes, awaited before the database closes. */
  pending: Promise<void>[];
}

const say = (cli: Cli, text: string) => cli.io.stdout.write(`${text}\n`);
/** With WXAUTH_KEYS or --stdout, stdout carries only the key set JSON, so messages go to stderr. */
const tell = (cli: Cli, text: string) => (cli.print ? cli.io.stderr : cli.io.stdout).write(`${text}\n`);

function onlyKid(positionals: string[], command: string): string {
  const kid = positionals[1];
  if (kid === undefined || positionals.length > 2) throw new UsageError(`${command} takes exactly one kid`);
  return kid;
}

async function withDatabase<T>(cli: Cli, work: (db: Db) => Promise<T>): Promise<T> {
  const dataDir = join(cli.config.dataDir, 'pglite');
  if (!cli.config.databaseUrl && !existsSync(dataDir)) {
    throw new KeyRotationError(`no database: WXAUTH_DATABASE_URL is not set and ${dataDir} does not exist`);
  }
  // Loaded on demand: the database drivers are most of this CLI's start-up time, and add/promote
  // must work on a machine that cannot reach the database at all.
  const { createDb, isMigrated } = await import('../../storage/create-db.ts');
  const db = createDb({ databaseUrl: cli.config.databaseUrl, dataDir, poolSize: 2 });
  try {
    if (!(await isMigrated(db))) {
      throw new KeyRotationError('the database is not migrated to this version; start the server once first');
    }
    const result = await work(db);
    await Promise.all(cli.pending);
    return result;
  } finally {
    await db.close();
  }
}

function events(cli: Cli, db?: Db) {
  const sink = createAuthEvents({
    logger: cli.logger,
    metrics: createMetrics(),
    clock: systemClock,
    ...(db ? { db: db.kysely } : {}),
  });
  return (event: AuthEvent) => {
    cli.pending.push(sink.emit(event));
  };
}

/** Writes the key file, or prints the JSON where the CLI cannot (or must not) write it. */
function save(cli: Cli, doc: KeySetDocument): void {
  if (cli.print) {
    cli.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    tell(
      cli,
      cli.source.kind === 'env'
        ? 'Store the key set printed above as WXAUTH_KEYS in your secrets manager, then restart every instance.'
        : 'Store the key set printed above where your instances read it, then restart every instance.',
    );
    return;
  }
  if (cli.source.kind === 'file') writeKeyFileAtomic(cli.source.path, doc);
  tell(cli, `Wrote ${cli.source.kind === 'file' ? cli.source.path : 'the key set'}.`);
}

async function status(cli: Cli, json: boolean): Promise<number> {
  const vault = createVault({ keys: parseKeySet(cli.doc).vault });
  const usage = await withDatabase(cli, (db) =>
    readKidUsage(createRotationRepository(db.kysely), (e) => vault.kidOf(e)),
  );
  const report = describeRotation({ keys: vault.keys(), usage, now: systemClock.now() });
  if (json) {
    say(cli, JSON.stringify(report, null, 2));
  } else {
    say(cli, `Key set: ${cli.source.kind === 'file' ? cli.source.path : 'WXAUTH_KEYS'}\n`);
    cli.io.stdout.write(formatRotationStatus(report));
  }
  return 0;
}

async function add(cli: Cli, kid: string | undefined): Promise<number> {
  const newKid = kid ?? newVaultKid(systemClock);
  save(cli, addVaultKey(cli.doc, { kid: newKid, key: generateVaultKey() }));
  events(cli)({ type: 'vault.key_added', outcome: 'ok', detail: { kid: newKid } });
  tell(
    cli,
    `Added vault key "${newKid}" as decrypt-only. Next: restart every instance with this key set, then \`keys promote ${newKid}\`.`,
  );
  return 0;
}

async function promote(cli: Cli, kid: string): Promise<number> {
  const result = promoteVaultKey(cli.doc, kid);
  if (!result.changed) {
    tell(cli, `"${kid}" is already the primary key; nothing changed.`);
    return 0;
  }
  save(cli, result.doc);
  events(cli)({
    type: 'vault.key_promoted',
    outcome: 'ok',
    detail: { kid, previousPrimary: result.previousPrimary },
  });
  tell(
    cli,
    `"${kid}" is now the primary key; "${result.previousPrimary}" is decrypt-only. Next: restart every instance; the scheduled vault-rewrap job then re-seals the stored rows (or run \`keys rewrap\`).`,
  );
  return 0;
}

function describePass(pass: number, r: RewrapResult): string {
  const newer = r.newer > 0 ? ` (${r.newer} of them on a newer key)` : '';
  return `pass ${pass}: ${r.rewrapped} rewrapped, ${r.skippedUnreadable} unreadable, ${r.changedConcurrently} changed by a concurrent write, ${r.remaining} not on "${r.primaryKid}"${newer} (${r.durationMs} ms)`;
}

async function rewrap(cli: Cli, batch: string | undefined): Promise<number> {
  const batchSize = batch === undefined ? DEFAULT_REWRAP_BATCH : Number(batch);
  if (!/^\d+$/.test(batch ?? '1') || batchSize < 1 || batchSize > 10_000) {
    throw new UsageError('--batch must be an integer from 1 to 10000');
  }
  return withDatabase(cli, async (db) => {
    const emit = events(cli, db);
    const vault = createVault({
      keys: parseKeySet(cli.doc).vault,
      onEvent: (e: VaultEvent) =>
        emit({ type: e.type, outcome: 'critical', reason: e.reason, detail: { kid: e.kid } }),
    });
    const job = createRewrapJob({
      db: db.kysely,
      vault,
      clock: systemClock,
      logger: cli.logger,
      batchSize,
      onBatch: (p) =>
        say(
          cli,
          `  ${p.table}: ${p.scanned} scanned, ${p.rewrapped} rewrapped, ${p.skippedUnreadable} unreadable, ${p.changedConcurrently} changed meanwhile`,
        ),
    });
    say(cli, `Re-sealing with "${vault.primaryKid()}" in batches of ${batchSize}.`);
    let last: RewrapResult | undefined;
    const totals = { rewrapped: 0, changedConcurrently: 0 };
    for (let pass = 1; pass <= MAX_PASSES; pass++) {
      last = await job.runOnce();
      totals.rewrapped += last.rewrapped;
      totals.changedConcurrently += last.changedConcurrently;
      say(cli, describePass(pass, last));
      // Another pass only helps with readable rows written meanwhile (a concurrent login under the old
      // key); rows the vault cannot open stay unreadable however often they are tried.
      const readableLeft = last.remaining - last.skippedUnreadable - last.newer;
      if (readableLeft <= 0 || last.rewrapped + last.changedConcurrently === 0) break;
    }
    const result = last!;
    for (const u of result.unreadable) {
      say(
        cli,
        `unreadable: ${u.rows} row(s) in ${u.table} sealed with ${u.kid === null ? 'no readable kid' : `"${u.kid}"`} (${u.reason}): left as they are, failing closed; see \`keys status\``,
      );
    }
    if (result.newer > 0) {
      say(
        cli,
        `${result.newer} row(s) are sealed with a key newer than "${result.primaryKid}": this key set is out of date (another instance has promoted a newer key). Those rows were left alone; run \`keys status\` with the current key set.`,
      );
    }
    const readableLeft = Math.max(0, result.remaining - result.skippedUnreadable - result.newer);
    emit({
      type: 'vault.rewrap',
      outcome: readableLeft === 0 ? 'ok' : 'fail',
      detail: { primaryKid: result.primaryKid, ...totals, remaining: result.remaining },
    });
    if (readableLeft > 0) {
      say(
        cli,
        `${readableLeft} row(s) are still sealed with an older key: some instance may still run with it as primary. Restart every instance with the promoted key set and run \`keys rewrap\` again.`,
      );
      return 1;
    }
    say(
      cli,
      result.remaining === 0
        ? `Done: every stored row is sealed with "${result.primaryKid}". Next: \`keys status\`, then \`keys retire <old kid>\`.`
        : `Done: every readable row is sealed with "${result.primaryKid}"; ${result.remaining - result.newer} unreadable row(s) remain.`,
    );
    return 0;
  });
}

async function retire(cli: Cli, kid: string): Promise<number> {
  if (!assertRetirable(cli.doc, kid)) {
    tell(cli, `"${kid}" is already retired; nothing changed.`);
    return 0;
  }
  const vault = createVault({ keys: parseKeySet(cli.doc).vault });
  const rows = await withDatabase(cli, (db) =>
    countRowsWithKid(createRotationRepository(db.kysely), (e) => vault.kidOf(e), kid),
  );
  const result = retireVaultKey(cli.doc, kid, rows);
  save(cli, result.doc);
  events(cli)({ type: 'vault.key_retired', outcome: 'ok', detail: { kid } });
  await Promise.all(cli.pending);
  tell(cli, `Retired "${kid}": no stored row uses it. Restart every instance with this key set.`);
  return 0;
}

async function dispatch(argv: string[], io: KeysCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      batch: { type: 'string' },
      kid: { type: 'string' },
      json: { type: 'boolean' },
      stdout: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (command === undefined) throw new UsageError('');
  if (command === 'generate') {
    io.stdout.write(`${await generateKeySetJson()}\n`);
    return 0;
  }
  const config = loadConfig(io.env);
  const source = resolveKeySource(io.env, config);
  const cli: Cli = {
    io,
    config,
    source,
    doc: readKeySource(source, config),
    // Logs (and the audit events of each step, R28) go to stderr, so stdout stays the command's output.
    logger: createLogger({ level: config.logLevel, destination: io.stderr }),
    print: source.kind === 'env' || values.stdout === true,
    pending: [],
  };
  switch (command) {
    case 'status':
      return status(cli, values.json === true);
    case 'add':
      return add(cli, values.kid);
    case 'promote':
      return promote(cli, onlyKid(positionals, 'promote'));
    case 'rewrap':
      return rewrap(cli, values.batch);
    case 'retire':
      return retire(cli, onlyKid(positionals, 'retire'));
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * `keys <command>` (see USAGE). Returns the exit code: 0 done, 1 refused or unfinished, 2 bad usage or
 * configuration. Anything else (a database failure) is thrown.
 */
export async function runKeysCommand(argv: string[], io: KeysCommandIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err)) {
      // parseArgs reports unknown options as a TypeError with an ERR_PARSE_ARGS_* code.
      io.stderr.write(`${err.message ? `wxauth keys: ${err.message}\n\n` : ''}${USAGE}`);
      return 2;
    }
    if (err instanceof KeyRotationError || err instanceof ConfigError) {
      io.stderr.write(`wxauth keys: ${err.message}\n`);
      return err instanceof ConfigError ? 2 : 1;
    }
    throw err;
  }
}
