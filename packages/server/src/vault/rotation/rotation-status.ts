import type { VaultKeyStatus } from '../vault.types.ts';
import { vaultKidDate } from './key-set-document.ts';
import type { RotationRepository } from './rotation.repository.ts';
import { SEALED_TABLES, type SealedTable } from './sealed-columns.ts';

/** How many stored rows of one table name one kid (null: an envelope with no readable kid). */
export interface KidUsage {
  table: SealedTable;
  kid: string | null;
  rows: number;
}

export type RowCounts = Record<SealedTable, number>;

export interface RotationStatus {
  keys: (VaultKeyStatus & {
    /** Where the key sits relative to the primary in the (oldest-first) key list. */
    age: 'older' | 'primary' | 'newer';
    rows: RowCounts;
  })[];
  /** Kids stored rows name that this key set does not have: those rows fail closed (R27). */
  unknownKids: { kid: string | null; rows: RowCounts }[];
  /** What to do next, most urgent first; never empty. */
  next: string[];
}

const YEAR_MS = 365 * 86_400_000;

const zero = (): RowCounts => ({ wechat_identities: 0, wechat_access_tokens: 0 });
const total = (rows: RowCounts): number => SEALED_TABLES.reduce((sum, t) => sum + rows[t], 0);

/** Reads the per-kid row counts of every sealed column. */
export async function readKidUsage(
  repository: RotationRepository,
  kidOf: (envelope: string) => string | null,
  pageSize = 500,
): Promise<KidUsage[]> {
  const usage: KidUsage[] = (await repository.countIdentitiesByKid()).map((r) => ({
    table: 'wechat_identities',
    ...r,
  }));
  const tokens = new Map<string | null, number>();
  let after: string | null = null;
  for (;;) {
    const page = await repository.findSealedAccessTokens(after, pageSize);
    for (const row of page) {
      const kid = kidOf(row.envelope);
      tokens.set(kid, (tokens.get(kid) ?? 0) + 1);
    }
    if (page.length < pageSize) break;
    after = page.at(-1)!.appId;
  }
  for (const [kid, rows] of tokens) usage.push({ table: 'wechat_access_tokens', kid, rows });
  return usage;
}

/** Stored rows that name `kid`: what `keys retire` must find at zero. */
export async function countRowsWithKid(
  repository: RotationRepository,
  kidOf: (envelope: string) => string | null,
  kid: string,
  pageSize = 500,
): Promise<number> {
  let rows = await repository.countIdentitiesWithKid(kid);
  let after: string | null = null;
  for (;;) {
    const page = await repository.findSealedAccessTokens(after, pageSize);
    rows += page.filter((row) => kidOf(row.envelope) === kid).length;
    if (page.length < pageSize) return rows;
    after = page.at(-1)!.appId;
  }
}

/** Where a rotation stands and what its next step is (pure: the CLI and tests share it). */
export function describeRotation(input: {
  keys: VaultKeyStatus[];
  usage: KidUsage[];
  now: number;
}): RotationStatus {
  const primaryIndex = input.keys.findIndex((k) => k.status === 'primary');
  const primary = input.keys[primaryIndex]!.kid;
  const counts = new Map<string | null, RowCounts>();
  for (const u of input.usage) {
    const rows = counts.get(u.kid) ?? zero();
    rows[u.table] += u.rows;
    counts.set(u.kid, rows);
  }
  const keys = input.keys.map((k, i) => ({
    ...k,
    age:
      i < primaryIndex ? ('older' as const) : i === primaryIndex ? ('primary' as const) : ('newer' as const),
    rows: counts.get(k.kid) ?? zero(),
  }));
  const known = new Set(input.keys.map((k) => k.kid));
  const unknownKids = [...counts]
    .filter(([kid, rows]) => (kid === null || !known.has(kid)) && total(rows) > 0)
    .map(([kid, rows]) => ({ kid, rows }));

  const next: string[] = [];
  for (const u of unknownKids) {
    next.push(
      `${total(u.rows)} row(s) are sealed with ${u.kid === null ? 'no readable kid' : `"${u.kid}"`}, which this key set does not have: they fail closed (those users are asked for a fresh wx.login). If the key was removed by mistake, add it back as decrypt-only; \`keys rewrap\` reports them and never rewrites them.`,
    );
  }
  for (const k of keys) {
    if (k.status === 'retired' && total(k.rows) > 0) {
      next.push(
        `${total(k.rows)} row(s) are sealed with the retired key "${k.kid}" and fail closed: mark it decrypt-only again, then run \`keys rewrap\`.`,
      );
    }
  }
  for (const k of keys) {
    if (k.status !== 'decrypt-only' || k.age !== 'newer') continue;
    const inUse =
      total(k.rows) > 0
        ? ` (${total(k.rows)} row(s) are already sealed with it, so some instance has promoted it)`
        : '';
    next.push(
      `Promote "${k.kid}" once every instance runs with a key set that contains it${inUse}: \`keys promote ${k.kid}\`, then restart every instance.`,
    );
  }
  for (const k of keys) {
    if (k.status !== 'decrypt-only' || k.age !== 'older') continue;
    next.push(
      total(k.rows) > 0
        ? `${total(k.rows)} row(s) are still sealed with "${k.kid}": once every instance runs with "${primary}" as primary, the scheduled vault-rewrap job re-seals them (or run \`keys rewrap\` now).`
        : `No row uses "${k.kid}" any more: \`keys retire ${k.kid}\`.`,
    );
  }
  if (next.length === 0) {
    const made = vaultKidDate(primary);
    next.push(
      made !== null && input.now - made > YEAR_MS
        ? `The primary key "${primary}" is more than 12 months old: start a rotation with \`keys add\`.`
        : 'Nothing to do. Rotate at least every 12 months, or at once on suspicion of a leak: `keys add`.',
    );
  }
  return { keys, unknownKids, next };
}

/** The human-readable report of `keys status`. */
export function formatRotationStatus(status: RotationStatus): string {
  const header = ['kid', 'status', ...SEALED_TABLES];
  const rows = [
    ...status.keys.map((k) => [k.kid, k.status, ...SEALED_TABLES.map((t) => String(k.rows[t]))]),
    ...status.unknownKids.map((u) => [
      u.kid ?? '(unreadable)',
      'unknown',
      ...SEALED_TABLES.map((t) => String(u.rows[t])),
    ]),
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line), '', 'Next:', ...status.next.map((n) => `- ${n}`), ''].join('\n');
}
