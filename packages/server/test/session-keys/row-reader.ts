import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createDb, type Db } from '../../src/storage/create-db.ts';

/** What the at-scale job test reads back after a run: every row's check state, and some envelopes. */
export interface RowState {
  statuses: Map<string, { status: string; run: string | null }>;
  envelopes: Map<string, string | null>;
}

export async function readRows(db: Db, appId: string, openids: readonly string[]): Promise<RowState> {
  const all = await db.kysely
    .selectFrom('wechat_identities')
    .select(['openid', 'session_key_status', 'session_key_check_run'])
    .where('app_id', '=', appId)
    .execute();
  const statuses = new Map(
    all.map((r) => [r.openid, { status: r.session_key_status, run: r.session_key_check_run }]),
  );
  const rows =
    openids.length === 0
      ? []
      : await db.kysely
          .selectFrom('wechat_identities')
          .select(['openid', 'session_key_enc'])
          .where('app_id', '=', appId)
          .where('openid', 'in', [...openids])
          .execute();
  return { statuses, envelopes: new Map(rows.map((r) => [r.openid, r.session_key_enc])) };
}

interface Request {
  rowReader: true;
  dataDir: string;
  appId: string;
  openids: string[];
}

/**
 * readRows on a PGlite data directory, in a worker thread. PGlite runs each statement on the thread
 * that holds it without yielding, and opening a data dir and reading thousands of rows holds it for
 * seconds: a test whose simulators (on this thread) answer another job process meanwhile would make
 * that job's calls miss R3's 3 s deadline.
 */
export function readPgliteRowsInWorker(dataDir: string, appId: string, openids: readonly string[]) {
  const request: Request = { rowReader: true, dataDir, appId, openids: [...openids] };
  const worker = new Worker(new URL(import.meta.url), { workerData: request });
  return new Promise<RowState>((resolve, reject) => {
    worker.once(
      'message',
      (
        message: { statuses: [string, { status: string; run: string | null }][] } & {
          envelopes: [string, string | null][];
        },
      ) => resolve({ statuses: new Map(message.statuses), envelopes: new Map(message.envelopes) }),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`row reader exited with ${code}`)));
  });
}

if (!isMainThread && (workerData as Partial<Request> | null)?.rowReader) {
  const request = workerData as Request;
  const db = createDb({ dataDir: request.dataDir });
  try {
    const state = await readRows(db, request.appId, request.openids);
    parentPort!.postMessage({ statuses: [...state.statuses], envelopes: [...state.envelopes] });
  } finally {
    await db.close();
  }
}
