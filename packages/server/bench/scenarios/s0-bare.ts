import { closed } from '../lib/contenders.ts';
import { type Row, rowOf, rpsRatio, type Scenario } from '../lib/results.ts';
import { interleave } from '../lib/rounds.ts';
import { startNodeHttp, startPlainFastify, startWxauth, stopAll } from '../lib/systems.ts';

const CONNECTIONS = 100;

/**
 * S0, calibration: GET /__bench/bare on the real app (every plugin and hook registered, no auth)
 * against fastify/benchmarks' hello-world on plain Fastify and on node:http.
 */
export const s0: Scenario = {
  id: 'S0',
  title: 'Bare route: the app vs plain Fastify vs node:http',
  perStore: false,
  async run({ profile, store, log }) {
    const [wxauth, fastify, nodeHttp] = await Promise.all([
      startWxauth(store, null),
      startPlainFastify(),
      startNodeHttp(),
    ]);
    try {
      const get = (path: string) => () => ({ method: 'GET' as const, path });
      const samples = await interleave(
        [
          closed('wxauth /__bench/bare', {
            origin: wxauth.url,
            connections: CONNECTIONS,
            next: get('/__bench/bare'),
            cpuUrl: wxauth.url,
          }),
          closed('plain Fastify', {
            origin: fastify.url,
            connections: CONNECTIONS,
            next: get('/'),
            cpuUrl: fastify.url,
          }),
          closed('node:http', {
            origin: nodeHttp.url,
            connections: CONNECTIONS,
            next: get('/'),
            cpuUrl: nodeHttp.url,
          }),
        ],
        profile,
        log,
      );
      const load = `closed, ${CONNECTIONS} conn`;
      const base = { scenario: 'S0' as const, store: '—', load };
      const ours = rowOf(
        { ...base, system: 'wxauth GET /__bench/bare' },
        samples.get('wxauth /__bench/bare'),
      );
      const plain = rowOf({ ...base, system: 'plain Fastify hello-world' }, samples.get('plain Fastify'));
      const bare = rowOf({ ...base, system: 'node:http hello-world' }, samples.get('node:http'));
      plain.ratio = rpsRatio(ours, plain);
      bare.ratio = rpsRatio(ours, bare);
      const rows: Row[] = [ours, plain, bare];
      return { rows, metrics: { 'S0.vsFastify': plain.ratio }, notes: [] };
    } finally {
      await stopAll([wxauth, fastify, nodeHttp]);
    }
  },
};
