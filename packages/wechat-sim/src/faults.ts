import { STATUS_CODES } from 'node:http';
import type { SimFault } from './types.ts';
import { isObject, optionalBoolean, optionalInteger, SimInputError } from './validate.ts';

interface ActiveFault {
  fault: SimFault;
  /** Calls left; Infinity for "until cleared". */
  remaining: number;
}

export interface FaultStore {
  add(fault: SimFault): void;
  /** The first active fault for `path` (or '*'), consuming one of its `times`. */
  take(path: string): SimFault | undefined;
  clear(): void;
}

export function createFaultStore(): FaultStore {
  let active: ActiveFault[] = [];
  return {
    add(fault) {
      const normalized = parseFault(fault);
      const times = normalized.times ?? 1;
      active.push({ fault: normalized, remaining: times <= 0 ? Number.POSITIVE_INFINITY : times });
    },
    take(path) {
      if (active.length === 0) return undefined;
      const entry = active.find(({ fault }) => fault.path === path || fault.path === '*');
      if (!entry) return undefined;
      entry.remaining--;
      if (entry.remaining <= 0) active = active.filter((e) => e !== entry);
      return entry.fault;
    },
    clear: () => {
      active = [];
    },
  };
}

const BODY_KINDS = ['html', 'empty', 'truncated'] as const;
const isBodyKind = (value: unknown): value is NonNullable<SimFault['body']> =>
  BODY_KINDS.some((kind) => kind === value);

/** Validates a fault from the control API or in-process callers; throws SimInputError. */
export function parseFault(input: unknown): SimFault {
  if (!isObject(input)) throw new SimInputError('fault must be a JSON object');
  const { path, errmsg, body } = input;
  if (typeof path !== 'string' || !(path === '*' || path.startsWith('/'))) {
    throw new SimInputError("path must be a WeChat path such as '/sns/jscode2session', or '*'");
  }
  if (errmsg !== undefined && typeof errmsg !== 'string') throw new SimInputError('errmsg must be a string');
  if (body !== undefined && !isBodyKind(body)) {
    throw new SimInputError(`body must be one of ${BODY_KINDS.join(', ')}`);
  }
  const fault: SimFault = {
    path,
    errcode: optionalInteger(input, 'errcode', -(2 ** 31), 2 ** 31 - 1),
    errmsg,
    status: optionalInteger(input, 'status', 200, 599),
    body: isBodyKind(body) ? body : undefined,
    delayMs: optionalInteger(input, 'delayMs', 0, 600_000),
    reset: optionalBoolean(input, 'reset'),
    times: optionalInteger(input, 'times', -1, 1_000_000),
  };
  const effects = [fault.errcode, fault.status, fault.body, fault.delayMs, fault.reset || undefined];
  if (effects.every((effect) => effect === undefined)) {
    throw new SimInputError('a fault needs at least one of errcode, status, body, delayMs, reset');
  }
  for (const key of Object.keys(fault) as (keyof SimFault)[]) if (fault[key] === undefined) delete fault[key];
  return fault;
}

/** True when the fault replaces the normal response (a delay alone only postpones it). */
export function replacesResponse(fault: SimFault): boolean {
  return (
    fault.errcode !== undefined ||
    fault.status !== undefined ||
    fault.body !== undefined ||
    fault.reset === true
  );
}

/** nginx's default error page, which is what a gateway failure in front of api.weixin.qq.com looks like. */
export function nginxErrorPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

/** A 200 HTML page, as a captive portal, proxy or WeChat's own busy page would serve instead of JSON. */
export const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>系统繁忙</title></head>' +
  '<body><p>系统繁忙，请稍后再试。</p></body></html>\n';

/** A JSON document cut mid-way (complete HTTP message, broken JSON). */
export const TRUNCATED_JSON = '{"errcode":0,"errmsg":"ok","openid":"o';
