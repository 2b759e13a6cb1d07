import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Every system under test, comparator and simulator is a child process of the runner, so each one's
 * CPU can be read apart from the load generator's. They are all tracked here and killed on every way
 * out of the runner: normal end, an error, a signal, or process.exit.
 */
export interface Child {
  name: string;
  /** Base URL from its `READY <url>` line. */
  url: string;
  pid: number;
  /** Wall ms from spawn to the READY line (S7 uses it). */
  readyMs: number;
  stop(): Promise<void>;
  /** The last lines it wrote to stderr, for error messages. */
  stderrTail(): string;
}

/**
 * Node flags of the harness processes: the runner (package.json's bench script) and the simulator.
 * See harness-gc.ts. 64 MB semi-spaces: a scavenge copies only what is alive, so a larger young
 * generation means fewer pauses of about the same length.
 */
export const HARNESS_NODE_FLAGS = ['--max-semi-space-size=64', '--expose-gc'];

const live = new Set<ChildProcess>();
const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

/** A script path relative to packages/server/bench/. */
export function benchScript(relative: string): string {
  return `${BENCH_DIR}${relative}`;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Give up (and kill it) when READY has not appeared by then. */
  readyTimeoutMs?: number;
  args?: string[];
  /** Options for node itself, before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export function spawnChild(name: string, script: string, options: SpawnOptions = {}): Promise<Child> {
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const tail: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    tail.push(chunk);
    if (tail.length > 40) tail.shift();
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  const stderrTail = () => tail.join('').slice(-4000);

  const stop = async () => {
    // BENCH_DEBUG=1 shows what each child said on stderr (wxauth logs failed requests there).
    if (process.env.BENCH_DEBUG) process.stderr.write(`--- ${name} stderr ---\n${stderrTail()}\n`);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  return new Promise<Child>((resolve, reject) => {
    let out = '';
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${name}: ${why}\n${stderrTail()}`));
    };
    const timer = setTimeout(
      () => fail(`no READY within ${options.readyTimeoutMs ?? 90_000} ms`),
      options.readyTimeoutMs ?? 90_000,
    );
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (settled) return;
      // Only the head of stdout matters; a chatty child must not grow this buffer without bound.
      out = (out + chunk).slice(-8192);
      const match = /READY (\S+)/.exec(out);
      if (!match) return;
      settled = true;
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      resolve({
        name,
        url: match[1]!,
        pid: child.pid!,
        readyMs: performance.now() - started,
        stop,
        stderrTail,
      });
    });
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before READY`));
    child.once('error', (err) => fail(`could not start: ${err.message}`));
  });
}

/** Stops every child still running (in parallel, each SIGTERM then SIGKILL after 5 s). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Last resort on process exit: nothing async can run any more, so SIGKILL whatever is left. */
export function killAllChildrenNow(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export function liveChildren(): number {
  return live.size;
}
