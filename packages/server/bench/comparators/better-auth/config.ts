/** The comparator's settings, read once from the environment the benchmark runner sets. */
export interface ComparatorConfig {
  /** `pglite` for an in-memory PGlite, else a PostgreSQL URL. */
  database: string;
  /** PostgreSQL only: the (runner-created) schema that holds every better-auth table. */
  schema: string | undefined;
  simUrl: string;
  appId: string;
  appSecret: string;
  cookieCache: boolean;
  awaitSend: boolean;
  /** Seconds; undefined keeps better-auth's default (86400 in 1.7). */
  updateAge: number | undefined;
  smsDelayMs: number;
  /** advanced.database.joins: one joined SELECT instead of one per table (default off, as in 1.7). */
  joins: boolean;
  /** Logs every SQL statement to stderr, to count statements per call. */
  logQueries: boolean;
}

export function loadComparatorConfig(env: NodeJS.ProcessEnv): ComparatorConfig {
  const database = env.BA_DATABASE || 'pglite';
  const schema = env.BA_SCHEMA || undefined;
  // Interpolated into search_path, so refuse anything but a plain identifier.
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`BA_SCHEMA must be a lower-case identifier, got ${JSON.stringify(schema)}`);
  }
  return {
    database,
    schema,
    simUrl: required(env, 'SIM_URL'),
    appId: required(env, 'WX_APP_ID'),
    appSecret: required(env, 'WX_SECRET'),
    cookieCache: onOff(env, 'BA_COOKIE_CACHE'),
    awaitSend: onOff(env, 'BA_AWAIT_SEND'),
    updateAge: env.BA_UPDATE_AGE ? nonNegativeInt(env, 'BA_UPDATE_AGE') : undefined,
    smsDelayMs: env.BA_SMS_DELAY_MS ? nonNegativeInt(env, 'BA_SMS_DELAY_MS') : 100,
    joins: onOff(env, 'BA_JOINS'),
    logQueries: env.BA_LOG_QUERIES === '1' || env.BA_LOG_QUERIES === 'on',
  };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

function onOff(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = env[name] ?? 'off';
  if (value !== 'on' && value !== 'off') throw new Error(`${name} must be on or off`);
  return value === 'on';
}

function nonNegativeInt(env: NodeJS.ProcessEnv, name: string): number {
  const value = Number(env[name]);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
}
