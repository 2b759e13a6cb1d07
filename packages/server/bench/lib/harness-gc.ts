/**
 * The load generator (the runner) and the simulator are harness, not systems under test, yet every
 * latency they add lands in the overhead figures of whoever is measured. Their own garbage collector
 * pauses were 10–70 ms, so both run with HARNESS_NODE_FLAGS (children.ts): a young generation large
 * enough that a phase sees few scavenges, and `gc()` exposed so a full collection runs *between*
 * phases rather than during one. Systems under test keep their own flags (wxauth: npm start's).
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Whether this process can collect on demand (it was started with --expose-gc). */
export function canCollectGarbage(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}
