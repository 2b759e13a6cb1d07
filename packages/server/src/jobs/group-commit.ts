/**
 * Group commit: callers add items and wait until theirs is written. One write is in flight at a time;
 * whatever arrives meanwhile goes into the next write together. Under load a job's concurrent calls
 * thus share one statement (PGlite runs every statement on the event loop, so this is most of the
 * job's speed), while at a low rate each item is written alone at once — no timer, no added latency,
 * and a caller never moves on before its result is durable.
 */
export function createGroupCommit<T, R>(
  write: (items: T[]) => Promise<R[]>,
  options: { maxItems?: number; lingerMs?: number } = {},
) {
  const maxItems = options.maxItems ?? 200;
  const lingerMs = options.lingerMs ?? 0;
  let pending: { item: T; resolve(value: R): void; reject(err: unknown): void }[] = [];
  let writing = false;

  async function drain(): Promise<void> {
    writing = true;
    try {
      await new Promise<void>((resolve) =>
        lingerMs > 0 ? setTimeout(resolve, lingerMs) : setImmediate(resolve),
      );
      while (pending.length > 0) {
        const group = pending.slice(0, maxItems);
        pending = pending.slice(group.length);
        try {
          const results = await write(group.map((p) => p.item));
          for (const [i, p] of group.entries()) p.resolve(results[i]!);
        } catch (err) {
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      writing = false;
    }
  }

  return {
    add(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (!writing) void drain();
      });
    },
  };
}

/**
 * Runs a write again when PostgreSQL picked it as a deadlock victim (40P01): another multi-row writer
 * (e.g. the vault's rewrap job) locked the same rows in another order. Only for writes that are safe
 * to repeat, such as the session-key job's, which touch only rows the worker still holds.
 */
export async function retryDeadlock<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code !== '40P01' || attempt >= 3) throw err;
    }
  }
}
