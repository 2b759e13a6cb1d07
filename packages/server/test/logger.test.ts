import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/logger.ts';
import { createLogCapture } from './support/log-capture.ts';

describe('log redaction (second line of defence)', () => {
  it('blanks secret fields at the top level and one level down', () => {
    const logs = createLogCapture();
    const logger = createLogger({ level: 'info', destination: logs.stream });
    logger.info(
      {
        code: '123456',
        sessionKey: 'SK-top',
        nested: { session_key: 'SK-nested', secret: 's3', token: 't' },
      },
      'x',
    );
    logger.info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'y');
    const text = logs.text();
    for (const leaked of ['123456', 'SK-top', 'SK-nested', 's3', 'abc.def.ghi'])
      expect(text).not.toContain(leaked);
    expect(text).toContain('[redacted]');
  });
});
