import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson, sleep } from '../lib/http.ts';
import { closedLoop, JSON_HEADERS } from '../lib/load.ts';
import type { Row, Scenario } from '../lib/results.ts';
import { summarize } from '../lib/stats.ts';
import type { Store } from '../lib/stores.ts';
import { type System, startNodeHttp, startPlainFastify, startWxauth } from '../lib/systems.ts';
import { APP_ID, startSim } from '../sim/client.ts';

const PGLITE_DISK: Store = { kind: 'pglite', label: 'PGlite (NodeFS)', durability: 'on disk, fsync off' };
const mb = (bytes: number) => bytes / 1_048_576;

/**
 * S7, cold start and footprint: process start → READY (spawn to the READY line: Node boot, type
 * stripping, imports, PGlite open, migrations check, composition root, listen) on a fresh PGlite data
 * dir (initdb + migrations) and on an existing one, interleaved; idle RSS; RSS after many logins; and
 * plain Fastify's and node:http's start → listen in the same way.
 */
export const s7: Scenario = {
  id: 'S7',
  title: 'Cold start and footprint',
  perStore: false,
  async run({ profile, log }) {
    const dirs: string[] = [];
    const sim = await startSim();
    let running: System | null = null;
    const fresh: number[] = [];
    const existing: number[] = [];
    const idleRss: number[] = [];
    const plainMs: number[] = [];
    const nodeMs: number[] = [];
    try {
      for (let round = 0; round < profile.startRounds; round++) {
        const dir = mkdtempSync(join(tmpdir(), 'wxauth-bench-s7-'));
        dirs.push(dir);
        running = await startWxauth(PGLITE_DISK, sim, { dataDir: dir });
        fresh.push(running.child.readyMs);
        await running.stop();
        running = await startWxauth(PGLITE_DISK, sim, { dataDir: dir });
        existing.push(running.child.readyMs);
        // Let start-up garbage settle before reading "idle".
        await sleep(1_000);
        idleRss.push((await getJson<{ rss: number }>(`${running.url}/__bench/mem`)).rss);
        // The last one stays up for the footprint under logins.
        if (round < profile.startRounds - 1) {
          await running.stop();
          running = null;
        }
        for (const [start, into] of [
          [startPlainFastify, plainMs],
          [startNodeHttp, nodeMs],
        ] as const) {
          const s = await start();
          into.push(s.child.readyMs);
          await s.stop();
        }
        log(
          `    round ${round + 1}: fresh ${fresh.at(-1)!.toFixed(0)} ms, existing ${existing.at(-1)!.toFixed(0)} ms, plain Fastify ${plainMs.at(-1)!.toFixed(0)} ms`,
        );
      }

      // Footprint after logins, on the last process started on an existing data dir.
      const server = running!;
      const logins = profile.footprintLogins;
      await sim.codes.ensure(logins + 1_000);
      const before = idleRss.at(-1)!;
      const loaded = await closedLoop(
        {
          origin: server.url,
          connections: 100,
          next: () => ({
            method: 'POST',
            path: '/v1/auth/wechat/login',
            headers: JSON_HEADERS,
            body: JSON.stringify({ code: sim.codes.take(), appId: APP_ID }),
          }),
        },
        { amount: logins, maxSec: 600 },
      );
      await sleep(1_000);
      const after = (await getJson<{ rss: number }>(`${server.url}/__bench/mem`)).rss;
      log(`    ${loaded.ok} logins: RSS ${mb(before).toFixed(0)} → ${mb(after).toFixed(0)} MB`);

      const base = {
        scenario: 'S7' as const,
        store: PGLITE_DISK.label,
        load: `${profile.startRounds} starts each`,
      };
      const ms = (values: number[]) => {
        const s = summarize(values);
        return `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
      };
      const rows: Row[] = [
        { ...base, system: 'wxauth start → READY, fresh data dir (initdb + migrations)', note: ms(fresh) },
        {
          ...base,
          system: 'wxauth start → READY, existing data dir',
          note: `${ms(existing)}; idle RSS ${mb(summarize(idleRss).median).toFixed(0)} MB (Keycloak's published base: 1,250 MB)`,
        },
        {
          ...base,
          system: `wxauth RSS after ${loaded.ok} logins`,
          load: 'closed, 100 conn',
          note: `${mb(before).toFixed(0)} → ${mb(after).toFixed(0)} MB (${after >= before ? '+' : '−'}${mb(Math.abs(after - before)).toFixed(0)} MB; RSS also counts freed heap not yet returned)`,
        },
        { ...base, store: '—', system: 'plain Fastify start → listening', note: ms(plainMs) },
        { ...base, store: '—', system: 'node:http start → listening', note: ms(nodeMs) },
      ];
      return { rows, metrics: { 'S7.readyExistingMs': summarize(existing).median }, notes: [] };
    } finally {
      await running?.stop();
      await sim.child.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  },
};
