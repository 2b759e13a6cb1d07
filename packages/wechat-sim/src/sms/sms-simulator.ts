import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSimClock } from '../clock.ts';
import { createAliyunSmsSim } from './aliyun.ts';
import { header, sendBody } from './common.ts';
import { createTencentSmsSim } from './tencent.ts';
import type { SmsSimulator, SmsSimulatorOptions, SmsVendorSim } from './types.ts';

/**
 * Both vendors behind one listener. Tencent and Aliyun both serve SendSms at '/' on their own hosts, so
 * paths cannot tell them apart; their signatures can: a request carrying X-TC-Action (or a TC3
 * Authorization) goes to Tencent, one carrying x-acs-action (or an ACS3 Authorization) to Aliyun.
 * Anything else gets 404, as an unknown host would.
 */
export function createSmsSimulator(options: SmsSimulatorOptions = {}): SmsSimulator {
  const clock = createSimClock(options.now);
  const shared = { seed: options.seed, now: clock.now };
  const tencent = options.tencent ? createTencentSmsSim({ ...options.tencent, ...shared }) : undefined;
  const aliyun = options.aliyun ? createAliyunSmsSim({ ...options.aliyun, ...shared }) : undefined;
  const vendors = [tencent, aliyun].filter((v): v is SmsVendorSim => v !== undefined);
  let server: Server | undefined;
  let url = '';
  let host = '';

  function pick(req: IncomingMessage): SmsVendorSim | undefined {
    const authorization = header(req.headers, 'authorization');
    if (header(req.headers, 'x-tc-action') || authorization.startsWith('TC3-')) return tencent;
    if (header(req.headers, 'x-acs-action') || authorization.startsWith('ACS3-')) return aliyun;
    return undefined;
  }

  const sim: SmsSimulator = {
    get url() {
      return url;
    },
    get host() {
      return host;
    },
    tencent,
    aliyun,
    handler(req: IncomingMessage, res: ServerResponse) {
      const vendor = pick(req);
      if (vendor) vendor.handler(req, res);
      else {
        req.resume();
        sendBody(res, 404, 'text/plain', 'no simulated SMS vendor for this request');
      }
    },
    async listen(port = 0, bindHost = '127.0.0.1') {
      if (server) throw new Error('the SMS simulator is already listening');
      const listening = createServer(sim.handler);
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, bindHost, resolve);
      });
      server = listening;
      const address = listening.address();
      const boundPort = typeof address === 'object' && address ? address.port : port;
      host = `${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${boundPort}`;
      url = `http://${host}`;
      return url;
    },
    async close() {
      for (const vendor of vendors) vendor.close();
      const closing = server;
      server = undefined;
      url = '';
      host = '';
      if (!closing) return;
      const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
      // Stalled requests (acceptThenStall) hold their sockets open; close them with the server.
      closing.closeAllConnections();
      await closed;
    },
    advanceClock: clock.advance,
    reset() {
      for (const vendor of vendors) vendor.reset();
    },
  };
  return sim;
}

/** createSmsSimulator + listen (port 0 and 127.0.0.1 by default). */
export async function startSmsSimulator(
  options: SmsSimulatorOptions & { port?: number; host?: string } = {},
): Promise<SmsSimulator> {
  const sim = createSmsSimulator(options);
  await sim.listen(options.port, options.host);
  return sim;
}
