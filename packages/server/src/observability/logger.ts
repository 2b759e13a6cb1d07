import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino blanks before a line is written. Secrets should never be handed to the logger in the
 * first place; this list is the second line of defence (R2, R28). Tests scan captured logs by value.
 */
const SECRET_FIELDS = [
  'session_key',
  'sessionKey',
  'secret',
  'appSecret',
  'access_token',
  'accessToken',
  'refreshToken',
  'refresh_token',
  'code',
  'js_code',
  'password',
  'token',
  'pepper',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  // pino's wildcard matches one level: list the top level and the first nesting level.
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
];

export type { Logger };

export function createLogger(
  options: { level?: string; destination?: DestinationStream; pretty?: boolean } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'wxauth' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
