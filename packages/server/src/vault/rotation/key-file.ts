import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../../config/load-config.ts';
import { KeyRotationError, type KeySetDocument, parseKeySetDocument } from './key-set-document.ts';

/**
 * Where the key set comes from, with the precedence loadConfig uses: WXAUTH_KEYS (environment,
 * usually filled from a secrets manager: the CLI cannot write it and prints the new JSON instead),
 * else WXAUTH_KEYS_FILE, else in dev mode `<WXAUTH_DATA_DIR>/keys.json`.
 */
export type KeySource = { kind: 'env' } | { kind: 'file'; path: string };

export function resolveKeySource(env: Record<string, string | undefined>, config: Config): KeySource {
  if (env.WXAUTH_KEYS?.trim()) return { kind: 'env' };
  const file = env.WXAUTH_KEYS_FILE?.trim();
  if (file) return { kind: 'file', path: file };
  if (config.devMode) return { kind: 'file', path: join(config.dataDir, 'keys.json') };
  throw new KeyRotationError('no key set: set WXAUTH_KEYS or WXAUTH_KEYS_FILE');
}

export function readKeySource(source: KeySource, config: Config): KeySetDocument {
  if (source.kind === 'env') return parseKeySetDocument(config.keys);
  if (!existsSync(source.path)) {
    throw new KeyRotationError(
      `no key set at ${source.path} (dev mode creates it on the first start; otherwise set WXAUTH_KEYS_FILE)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(source.path, 'utf8'));
  } catch {
    // No cause: a JSON error message quotes the input, which holds key material.
    throw new KeyRotationError(`${source.path} cannot be read as JSON`);
  }
  return parseKeySetDocument(json);
}

/**
 * Replaces the key file atomically: readers (a restarting instance) see the old or the new file,
 * never half of one. Written to a temp file in the same directory with mode 0600, flushed, renamed
 * over the target, then the directory is flushed so the rename survives a crash.
 */
export function writeKeyFileAtomic(path: string, doc: KeySetDocument): void {
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd = openSync(temp, 'wx', 0o600);
  try {
    // The mode given to open is narrowed by the umask; the key file must be exactly owner-only.
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== -1) closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  try {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Directories cannot be opened for fsync on every platform; the rename has happened regardless.
  }
}
