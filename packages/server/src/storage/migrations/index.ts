import type { Migration, MigrationProvider } from 'kysely/migration';
import * as initial from './0001-initial.ts';
import * as phone from './0002-phone.ts';
import * as sessionKeys from './0003-session-keys.ts';
import * as smsDailySends from './0004-sms-daily-sends.ts';

/** Migrations are listed statically so they work the same from source, tests and bundles. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-phone': phone,
  '0003-session-keys': sessionKeys,
  '0004-sms-daily-sends': smsDailySends,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};

export const LATEST_MIGRATION = Object.keys(MIGRATIONS).at(-1)!;
