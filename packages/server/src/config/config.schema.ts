/**
 * Every setting wxauth reads, in one table: name, default, whether it is secret, what it does.
 * docs/config.md is checked against this table by a test. Parsed once at start-up (load-config.ts).
 */
export interface VariableSpec {
  name: string;
  default?: string;
  secret?: boolean;
  description: string;
}

export const VARIABLES = [
  { name: 'PORT', default: '3000', description: 'HTTP port to listen on.' },
  { name: 'HOST', default: '127.0.0.1', description: 'Interface to listen on (use 0.0.0.0 in a container).' },
  {
    name: 'WXAUTH_DATA_DIR',
    default: '.wxauth',
    description:
      'Directory for the embedded PGlite database (started with 16 MB of shared buffers) and, in dev mode, the generated keys.',
  },
  {
    name: 'WXAUTH_DATABASE_URL',
    secret: true,
    description:
      'PostgreSQL connection string. When unset, the embedded PGlite database in WXAUTH_DATA_DIR is used.',
  },
  {
    name: 'WXAUTH_DB_POOL_SIZE',
    default: '10',
    description:
      'PostgreSQL connection pool size (fixed, R29: idle connections stay open, with TCP keep-alive).',
  },
  {
    name: 'WXAUTH_DATABASE_PREPARE',
    default: 'true',
    description:
      'PostgreSQL: run queries as named prepared statements (parsed and planned once per connection). Set false behind a pooler that cannot keep them, such as PgBouncer in transaction mode before 1.21.',
  },
  {
    name: 'WXAUTH_APPS',
    secret: true,
    description:
      'JSON list of mini programs: [{"appId":"wx…","secret":"…","apiBaseUrl":"https://api.weixin.qq.com"}]. When neither this nor WXAUTH_APP_ID is set, the server runs in dev mode with its own simulator.',
  },
  {
    name: 'WXAUTH_APP_ID',
    description: 'Shortcut for a single mini program: its AppID (with WXAUTH_APP_SECRET).',
  },
  {
    name: 'WXAUTH_APP_SECRET',
    secret: true,
    description: 'Shortcut for a single mini program: its AppSecret.',
  },
  {
    name: 'WXAUTH_WECHAT_API_BASE_URL',
    default: 'https://api.weixin.qq.com',
    description: 'Default WeChat API base URL for apps that do not name their own (point it at a simulator).',
  },
  {
    name: 'WXAUTH_KEYS',
    secret: true,
    description:
      'JSON key set: {"vault":[{"kid","key"(base64, 32 bytes),"status"}],"jwt":[{"kid","privateJwk","status"}],"refreshPepper":"base64"}. Required outside dev mode (or WXAUTH_KEYS_FILE).',
  },
  { name: 'WXAUTH_KEYS_FILE', description: 'Path to a file holding the WXAUTH_KEYS JSON.' },
  { name: 'WXAUTH_ISSUER', default: 'wxauth', description: 'The `iss` claim of access tokens.' },
  { name: 'WXAUTH_AUDIENCE', default: 'wxauth', description: 'The `aud` claim of access tokens.' },
  {
    name: 'WXAUTH_ACCESS_TOKEN_TTL',
    default: '900',
    description: 'Access token lifetime in seconds (R16: 15 min).',
  },
  {
    name: 'WXAUTH_REFRESH_IDLE_TTL',
    default: '604800',
    description: 'A session ends after this many seconds without a refresh (R20: 7 days).',
  },
  {
    name: 'WXAUTH_REFRESH_ABSOLUTE_TTL',
    default: '2592000',
    description: 'A session ends this many seconds after login, whatever its use (R20: 30 days).',
  },
  {
    name: 'WXAUTH_REFRESH_GRACE',
    default: '10',
    description:
      'Seconds during which the immediate parent of a rotated refresh token returns the same child (R18).',
  },
  {
    name: 'WXAUTH_MAX_SESSIONS',
    default: '10',
    description: 'Active sessions per user; the oldest is ended (R20).',
  },
  {
    name: 'WXAUTH_LOGIN_CODE_WINDOW',
    default: '60',
    description:
      'Seconds after a successful code exchange during which the same wx.login code logs in the same user again without calling WeChat (double taps, retries after a lost response).',
  },
  {
    name: 'WXAUTH_TRUST_PROXY',
    default: 'false',
    description:
      'Trust X-Forwarded-For from this proxy: false, true, a hop count, or a comma-separated list of addresses/CIDRs.',
  },
  {
    name: 'WXAUTH_LOG_LEVEL',
    default: 'info',
    description: 'pino log level: fatal, error, warn, info, debug, trace, silent.',
  },
  {
    name: 'WXAUTH_REDIS_URL',
    secret: true,
    description:
      'Redis for short-window rate limits shared by all instances and, on PostgreSQL, for the login-code claims (R1: one code2Session per code). When unset, limits are kept in memory per process and claims in the database. If set and Redis is down, SMS sending fails closed (503) and claims fall back to the database.',
  },
  {
    name: 'WXAUTH_PHONE_DEFAULT_REGION',
    default: 'CN',
    description: 'Region assumed for phone numbers written without a country code (ISO 3166 code).',
  },
  {
    name: 'WXAUTH_PHONE_ALLOWED_REGIONS',
    default: 'CN',
    description:
      'Comma-separated regions whose numbers may receive SMS codes and log in (R12: only +86 by default).',
  },
  {
    name: 'WXAUTH_PHONE_CONFLICT',
    default: 'refuse',
    description:
      'When a phone or WeChat identity being linked belongs to another account: refuse (phone_conflict) or merge (the other account is absorbed; its sessions end; the merge is recorded).',
  },
  {
    name: 'WXAUTH_SMS_DAILY_BUDGET',
    default: '1000',
    description:
      'SMS sends allowed per day (China time) across all phones; a warning is logged at 80 %, sending stops at 100 %.',
  },
  {
    name: 'WXAUTH_LOGIN_RATE_PER_MINUTE',
    default: '60',
    description:
      'WeChat and phone logins allowed per client IP per minute (R23). 0 turns the limit off (benchmarks only).',
  },
  {
    name: 'WXAUTH_REFRESH_RATE_PER_HOUR',
    default: '1800',
    description:
      'Token refreshes allowed per client IP per hour (R23). 0 turns the limit off (benchmarks only).',
  },
  {
    name: 'WXAUTH_SESSION_KEY_CHECK_CRON',
    default: '0 * * * *',
    description:
      'When the session-key job runs (cron, UTC): on PostgreSQL as a pg-boss schedule, on PGlite on an in-process timer. `off` disables scheduling (the CLI still runs it).',
  },
  {
    name: 'WXAUTH_SESSION_KEY_CHECK_RATE',
    default: '50',
    description:
      'WeChat calls per second the session-key job may make, per app and cluster-wide (R7). Halved for the rest of a run after a 45011.',
  },
  {
    name: 'WXAUTH_SESSION_KEY_RESET_AGE',
    default: '0',
    description:
      'Seconds after which the session-key job resets a stored key with resetusersessionkey (at most once per user per 24 h); 0 = only keys marked compromised.',
  },
  {
    name: 'WXAUTH_VAULT_REWRAP_CRON',
    default: '*/10 * * * *',
    description:
      'When the vault rewrap job runs (cron, UTC): it re-seals rows still sealed with a key older than the primary, so after `keys promote` the rotation finishes by itself (R26). Costs a few index probes when no row needs it. `off` disables scheduling (`keys rewrap` and `jobs.ts run vault-rewrap` still work).',
  },
  {
    name: 'WXAUTH_SIM_PORT',
    default: '0',
    description: 'Dev mode only: port of the built-in WeChat simulator (0 picks a free one).',
  },
] as const satisfies readonly VariableSpec[];

export type VariableName = (typeof VARIABLES)[number]['name'];
