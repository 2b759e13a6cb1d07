import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

interface LazyState {
  parent: Logger;
  bindings: Bindings;
  options: ChildLoggerOptions | undefined;
  real: Logger | null;
}

function realOf(self: LazyState): Logger {
  self.real ??= self.parent.child(self.bindings, self.options);
  return self.real;
}

/**
 * One prototype for every lazy child: a request costs one small object, not a set of closures.
 * Only the methods Fastify and our hooks call are here (Fastify checks for exactly these).
 */
const lazyProto: Record<string, unknown> = {
  child(this: LazyState, bindings: Bindings, options?: ChildLoggerOptions) {
    return realOf(this).child(bindings, options);
  },
  isLevelEnabled(this: LazyState, level: string) {
    return (this.real ?? this.parent).isLevelEnabled(level);
  },
  silent() {},
};
Object.defineProperty(lazyProto, 'level', {
  get(this: LazyState) {
    return (this.real ?? this.parent).level;
  },
  set(this: LazyState, level: string) {
    realOf(this).level = level;
  },
});
for (const level of LEVELS) {
  lazyProto[level] = function (this: LazyState, ...args: unknown[]) {
    // A disabled level stays a no-op without ever building the child.
    if (!(this.real ?? this.parent).isLevelEnabled(level)) return;
    (realOf(this)[level] as (...a: unknown[]) => void)(...args);
  };
}

/**
 * Fastify's childLoggerFactory: the per-request child logger, built only when a line is written.
 *
 * Why: Fastify makes a child (with the request id) for every request, and pino runs each child's
 * bindings through every redaction path at creation. At the default level most requests never log
 * (one line per failed request, see app.ts), so that work was thrown away on nearly every request:
 * about 5 % of the bytes a login allocated, in a sampling heap profile of the S1 benchmark.
 * A route that sets its own log level gets a real child at once, so its level is exact.
 */
export function lazyChildLogger(parent: Logger, bindings: Bindings, options?: ChildLoggerOptions): Logger {
  if (options?.level !== undefined) return parent.child(bindings, options);
  const state: LazyState = Object.create(lazyProto);
  state.parent = parent;
  state.bindings = bindings;
  state.options = options;
  state.real = null;
  return state as unknown as Logger;
}
