import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES, type ErrorCode, isAppError } from '../errors.ts';

/** The public error body (shared/api.md "Errors"): code, message, requestId — never internals. */
export function sendError(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  if (error.retryAfter !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  else if (error.status === 503 || error.status === 429) reply.header('retry-after', '1');
  return reply.status(error.status).send({
    error: { code: error.code, message: error.message, requestId: request.id },
  });
}

/** Fastify's own errors (parsing, validation, limits) mapped to our registry. */
function fromFastify(error: FastifyError): AppError | null {
  if (error.validation) {
    const first = error.validation[0];
    const where = first?.instancePath ? `${first.instancePath.slice(1)}: ` : '';
    return new AppError('invalid_request', {
      message: `Invalid request: ${where}${first?.message ?? 'bad input'}`.slice(0, 200),
    });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_request', { message: 'The JSON body is empty.' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('invalid_request', { message: 'The body is not valid JSON.' });
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    const byStatus: Record<number, ErrorCode> = {
      404: 'not_found',
      405: 'method_not_allowed',
      413: 'payload_too_large',
      415: 'unsupported_media_type',
      429: 'rate_limited',
    };
    // e.g. secure-json-parse refusing "__proto__" keys, or a malformed JSON body.
    return new AppError(byStatus[error.statusCode] ?? 'invalid_request', {
      message:
        error.statusCode === 400
          ? 'The body is not valid JSON.'
          : ERROR_CODES[byStatus[error.statusCode] ?? 'invalid_request'].message,
    });
  }
  return null;
}

/** Connection-level database failures (pool exhausted, server restarting) become 503, not 500 (R29). */
function isTransientDbError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      '57P01',
      '57P02',
      '57P03',
      '53300',
      '08006',
      '08003',
      '08001',
      '40001',
      '40P01',
      '55P03',
    ].includes(code) || /timeout exceeded when trying to connect|Connection terminated/i.test(message)
  );
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isAppError(error)) {
      if (error.status >= 500)
        request.log.warn({ errorCode: error.code, cause: causeSummary(error.cause) }, 'request failed');
      return sendError(reply, request, error);
    }
    const mapped = fromFastify(error);
    if (mapped) return sendError(reply, request, mapped);
    if (isTransientDbError(error)) {
      request.log.warn({ err: causeSummary(error) }, 'database unavailable');
      return sendError(reply, request, new AppError('busy', { retryAfter: 1 }));
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, request, new AppError('internal_error'));
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, request, new AppError('not_found')));
}

/** Enough of a cause to debug with, without upstream bodies or secrets. */
function causeSummary(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  const e = cause as { name?: unknown; code?: unknown; message?: unknown };
  return [e.name, e.code].filter((x) => typeof x === 'string').join(':') || 'error';
}
