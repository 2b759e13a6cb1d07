import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer of the fake WeChat server. */
export type ScriptedResponse =
  | { kind: 'reply'; status: number; contentType: string; body: string }
  | { kind: 'reset' };

/**
 * A tiny node:http fake of api.weixin.qq.com for the property tests: it answers each request with the
 * next scripted response, so a test controls every byte (the simulator only offers fixed fault kinds).
 */
export async function startFakeWeChat() {
  let script: ScriptedResponse[] = [];
  let requests: { method: string; path: string }[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      requests.push({ method: req.method ?? 'GET', path: new URL(req.url ?? '/', 'http://x').pathname });
      const next = script.shift() ?? {
        kind: 'reply',
        status: 599,
        contentType: 'text/plain',
        body: 'script empty',
      };
      if (next.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(next.status, {
        'content-type': next.contentType,
        'content-length': Buffer.byteLength(next.body),
      });
      res.end(next.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Replaces the script and forgets earlier requests. */
    script(responses: ScriptedResponse[]): void {
      script = [...responses];
      requests = [];
    },
    requests: () => requests,
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
