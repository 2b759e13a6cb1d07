import { parseArgs } from 'node:util';
import { startSimulator } from './simulator.ts';
import type { SimAppConfig, SimLatencyDistribution } from './types.ts';

const USAGE = `Usage: node packages/wechat-sim/src/cli.ts [options]
  --port <n>            port to listen on (default 3900; 0 picks a free one)
  --host <addr>         address to bind (default 127.0.0.1)
  --app <id:secret[:union]>  register a mini program; ":union" binds it to an Open Platform account (repeatable)
  --seed <s>            deterministic codes, openids, keys and tokens
  --latency-ms <ms | median:p99[:tailProbability]>  added to every WeChat response
  --help`;

function parseApp(spec: string): SimAppConfig {
  const [appId, secret, flag, ...rest] = spec.split(':');
  if (!appId || !secret || rest.length > 0 || (flag !== undefined && flag !== 'union')) {
    throw new Error(`--app expects appId:secret[:union], got "${spec}"`);
  }
  return { appId, secret, unionBound: flag === 'union' };
}

function parseLatency(spec: string | undefined): number | SimLatencyDistribution | undefined {
  if (spec === undefined) return undefined;
  const parts = spec.split(':').map(Number);
  if (parts.some((n) => !Number.isFinite(n) || n < 0) || parts.length > 3) {
    throw new Error(`--latency-ms expects ms or median:p99[:tailProbability], got "${spec}"`);
  }
  const [median = 0, p99, tailProbability] = parts;
  return p99 === undefined ? median : { median, p99, tailProbability };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '3900' },
      host: { type: 'string', default: '127.0.0.1' },
      app: { type: 'string', multiple: true, default: [] },
      seed: { type: 'string' },
      'latency-ms': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`invalid --port ${values.port}`);
  const apps = values.app.map(parseApp);
  const sim = await startSimulator({
    port,
    host: values.host,
    apps,
    seed: values.seed,
    latencyMs: parseLatency(values['latency-ms']),
  });
  console.log(`wechat-sim listening on ${sim.url}`);
  if (apps.length === 0) console.log('no apps registered; add one with POST /__sim/apps {"appId","secret"}');
  for (const app of apps) console.log(`app ${app.appId}${app.unionBound ? ' (unionid)' : ''}`);
  const stop = () => {
    sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  console.error(USAGE);
  process.exit(1);
});
