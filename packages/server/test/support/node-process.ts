import { type ChildProcess, spawn } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A `node` child process running one of our scripts, with its output kept for assertions. */
export interface NodeProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<Exit>;
  /** SIGTERM (a clean shutdown), then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<Exit>;
}

/** Every child still running, killed when the test worker exits whatever happened to the test. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * `node <script> …args` with only PATH and `env` in its environment, so a child reads exactly the
 * configuration the test gives it and nothing from the developer's shell.
 */
export function spawnNode(script: string, args: string[], env: Record<string, string>): NodeProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const done = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        try {
          return await done;
        } finally {
          clearTimeout(timer);
        }
      }
      return done;
    },
  };
}

/** Resolves with the first match of `pattern` on the child's stdout; rejects if it exits or times out first. */
export function waitForStdout(
  proc: NodeProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = proc.stdout().match(pattern);
      if (match) finish(() => resolve(match));
    };
    const timer = setTimeout(
      () =>
        finish(() => reject(new Error(`no ${pattern} on stdout within ${timeoutMs} ms:\n${proc.stderr()}`))),
      timeoutMs,
    );
    const exited = (exit: Exit) =>
      finish(() =>
        reject(new Error(`exited (${exit.code ?? exit.signal}) before ${pattern}:\n${exit.stderr}`)),
      );
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      proc.child.stdout?.off('data', check);
      settle();
    };
    proc.child.stdout?.on('data', check);
    void proc.done.then(exited);
    check();
  });
}
