import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSimClock } from './clock.ts';
import { handleControl } from './control.ts';
import { createRidSource, errorBody } from './errcodes.ts';
import { createFaultStore, nginxErrorPage } from './faults.ts';
import { parseRequest, readBody, send, sendJson } from './http-io.ts';
import { createLatency } from './latency.ts';
import { resolveOptions } from './options.ts';
import { createRandom } from './random.ts';
import { createFixedWindow } from './rate-limit.ts';
import { createTokenStore } from './tokens.ts';
import type { SimCallRecord, Simulator, SimulatorOptions } from './types.ts';
import { handleWechat, isWechatPath, type WechatRouterDeps } from './wechat/router.ts';
import { createWorld } from './world.ts';

/** Builds a simulator; nothing listens until `listen()`, and `handler` can be mounted on any server. */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const config = resolveOptions(options);
  const clock = createSimClock(options.now);
  // Independent random streams: with a seed, the codes, openids and keys a test sees do not depend on how
  // many tokens, rids, ivs or latency samples were drawn in between.
  const stream = (name: string) => createRandom(options.seed, name);
  const world = createWorld(clock, stream('ids'), stream('iv'), config);
  const tokens = createTokenStore(clock.now, stream('tokens'), config.accessTokenTtlSec);
  const faults = createFaultStore();
  const calls = createCallLog(config.maxCallRecords);
  const pending = new Set<NodeJS.Timeout>();
  const deps: WechatRouterDeps = {
    ctx: {
      world,
      tokens,
      clock,
      rid: createRidSource(stream('rid'), clock.now),
      perUserMinute: createFixedWindow(clock.now, 60_000),
      code2SessionPerUserPerMinute: config.code2SessionPerUserPerMinute,
    },
    faults,
    latency: createLatency(options.latencyMs, stream('latency')),
    pending,
    rateLimits: config.rateLimits,
    appMinute: createFixedWindow(clock.now, 60_000),
    appSecond: createFixedWindow(clock.now, 1000),
    record: calls.add,
  };
  let server: Server | undefined;
  let url = '';

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const request = parseRequest(req, body ?? '');
    const isWechat = isWechatPath(request.path);
    if (body === null) {
      if (isWechat) sendJson(res, 200, errorBody(45002, deps.ctx.rid));
      else sendJson(res, 413, { error: { code: 'payload_too_large', message: 'body over 1 MiB' } });
    } else if (request.path.startsWith('/__sim/')) handleControl(sim, request, res);
    else if (isWechatPath(request.path)) await handleWechat(deps, request.path, request, res);
    else send(res, 404, 'text/html', nginxErrorPage(404));
  }

  const sim: Simulator = {
    get url() {
      return url;
    },
    handler(req, res) {
      route(req, res).catch((error: unknown) => {
        sendJson(res, 500, { error: { code: 'internal', message: String(error) } });
      });
    },
    async listen(port = 0, host = '127.0.0.1') {
      if (server) throw new Error('the simulator is already listening');
      const listening = createServer(sim.handler);
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, host, resolve);
      });
      server = listening;
      const address = listening.address();
      const boundPort = typeof address === 'object' && address ? address.port : port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
      return url;
    },
    async close() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
      const closing = server;
      server = undefined;
      url = '';
      if (!closing) return;
      const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
      closing.closeAllConnections();
      await closed;
    },
    registerApp: world.registerApp,
    login: world.login,
    phoneCode: world.phoneCode,
    encrypt: world.encrypt,
    injectFault: faults.add,
    clearFaults: faults.clear,
    calls: calls.list,
    callCounts: calls.counts,
    advanceClock: clock.advance,
    expireSessionKey: world.expireKey,
    currentSessionKey: world.currentKey,
    allIssuedSessionKeys: world.issuedKeys,
    /** Keeps apps, the clock offset and the random streams, so identifiers never repeat in one run. */
    reset() {
      world.clear();
      tokens.clear();
      faults.clear();
      calls.clear();
      deps.ctx.perUserMinute.clear();
      deps.appMinute.clear();
      deps.appSecond.clear();
    },
  };
  for (const app of options.apps ?? []) sim.registerApp(app);
  return sim;
}

/** createSimulator + listen (port 0 and 127.0.0.1 by default). */
export async function startSimulator(
  options: SimulatorOptions & { port?: number; host?: string } = {},
): Promise<Simulator> {
  const sim = createSimulator(options);
  await sim.listen(options.port, options.host);
  return sim;
}

/** Exact counts per path, and the newest `max` records in a ring so long benchmarks stay bounded. */
function createCallLog(max: number) {
  let records: SimCallRecord[] = [];
  let head = 0;
  const counts = new Map<string, number>();
  return {
    add(record: SimCallRecord): void {
      counts.set(record.path, (counts.get(record.path) ?? 0) + 1);
      if (max === 0) return;
      if (records.length < max) records.push(record);
      else {
        records[head] = record;
        head = (head + 1) % max;
      }
    },
    list: (): SimCallRecord[] => [...records.slice(head), ...records.slice(0, head)],
    counts: (): Record<string, number> => Object.fromEntries(counts),
    clear(): void {
      records = [];
      head = 0;
      counts.clear();
    },
  };
}
