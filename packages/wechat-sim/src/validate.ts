/** Bad input to the control API or the in-process control methods; the HTTP layer maps it to 400. */
export class SimInputError extends Error {
  readonly code = 'invalid_request';
  constructor(message: string) {
    super(message);
    this.name = 'SimInputError';
  }
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireObject(value: unknown, what = 'body'): JsonObject {
  if (!isObject(value)) throw new SimInputError(`${what} must be a JSON object`);
  return value;
}

/** A required string matching `pattern` (when given). */
export function requireString(obj: JsonObject, key: string, pattern?: RegExp): string {
  const value = obj[key];
  if (typeof value !== 'string' || value === '') throw new SimInputError(`${key} must be a non-empty string`);
  if (pattern && !pattern.test(value)) throw new SimInputError(`${key} must match ${pattern}`);
  return value;
}

export function optionalString(obj: JsonObject, key: string, pattern?: RegExp): string | undefined {
  return obj[key] === undefined || obj[key] === null ? undefined : requireString(obj, key, pattern);
}

export function optionalBoolean(obj: JsonObject, key: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new SimInputError(`${key} must be a boolean`);
  return value;
}

export function optionalInteger(obj: JsonObject, key: string, min: number, max: number): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SimInputError(`${key} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

/** appId: any id without whitespace (real ones are "wx" + 16 hex chars, but tests use readable names). */
export const APP_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** openid/unionid: url-safe chars; real ones are 28 chars (wechat-api.md §2). */
export const OPEN_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** session_key: base64 of 16 bytes, 24 chars (§2, §8). */
export const SESSION_KEY = /^[A-Za-z0-9+/]{22}==$/;
