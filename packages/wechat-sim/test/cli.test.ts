import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

describe('cli', () => {
  it('starts on the given port with the given apps and prints them', async () => {
    const child = spawn(
      process.execPath,
      [CLI, '--port', '0', '--app', 'wxcli:clisecret:union', '--seed', 's'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const output = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('app wxcli')) resolve(text);
        });
        child.once('exit', (code) => reject(new Error(`cli exited with ${code}: ${text}`)));
      });
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(output).toContain('app wxcli (unionid)');
      const login = (await (
        await fetch(`${url}/__sim/login`, { method: 'POST', body: '{"appId":"wxcli"}' })
      ).json()) as { code: string };
      const query = `appid=wxcli&secret=clisecret&js_code=${login.code}&grant_type=authorization_code`;
      const session = (await (await fetch(`${url}/sns/jscode2session?${query}`)).json()) as Record<
        string,
        string
      >;
      expect(Object.keys(session)).toEqual(['session_key', 'openid', 'unionid']);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('exits non-zero on a malformed --app', async () => {
    const child = spawn(process.execPath, [CLI, '--port', '0', '--app', 'nosecret'], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
  });
});
