import { Writable } from 'node:stream';

export interface LogCapture {
  stream: Writable;
  lines: string[];
  text(): string;
  parsed(): Record<string, unknown>[];
}

/** A pino destination that keeps every line, so tests can search logs for leaked secrets by value. */
export function createLogCapture(): LogCapture {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
      callback();
    },
  });
  return {
    stream,
    lines,
    text: () => lines.join('\n'),
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
