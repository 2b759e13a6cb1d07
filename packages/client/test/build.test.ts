import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, PACKAGE_DIR } from '../scripts/build.ts';

/** Syntax newer than ES2017 that some supported base libraries (older iOS JavaScriptCore) reject. */
function newerThanEs2017(code: string): string[] {
  const source = ts.createSourceFile('bundle.js', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isPropertyAccessExpression(node) ||
      ts.isElementAccessExpression(node) ||
      ts.isCallExpression(node)
    ) {
      if (node.questionDotToken) found.push('optional chaining');
    }
    if (ts.isBinaryExpression(node)) {
      const op = node.operatorToken.kind;
      if (op === ts.SyntaxKind.QuestionQuestionToken) found.push('??');
      if (
        op === ts.SyntaxKind.QuestionQuestionEqualsToken ||
        op === ts.SyntaxKind.BarBarEqualsToken ||
        op === ts.SyntaxKind.AmpersandAmpersandEqualsToken
      )
        found.push('logical assignment');
    }
    if (ts.isSpreadAssignment(node)) found.push('object spread');
    if (ts.isObjectBindingPattern(node) && node.elements.some((e) => e.dotDotDotToken))
      found.push('object rest');
    if (ts.isCatchClause(node) && !node.variableDeclaration) found.push('optional catch binding');
    if (ts.isForOfStatement(node) && node.awaitModifier) found.push('for await');
    if (ts.isPropertyDeclaration(node)) found.push('class field');
    if (ts.isPrivateIdentifier(node)) found.push('private name');
    if (ts.isBigIntLiteral(node)) found.push('bigint');
    if (ts.isNumericLiteral(node) && node.getText().includes('_')) found.push('numeric separator');
    if (ts.isRegularExpressionLiteral(node) && /\/[a-z]*s[a-z]*$/.test(node.text))
      found.push('regexp s flag');
    if (
      (ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isMethodDeclaration(node)) &&
      node.asteriskToken &&
      node.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)
    )
      found.push('async generator');
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...new Set(found)];
}

const RUNTIME_EXPORTS = ['WxAuthError', 'createAuthClient', 'createWxPlatform', 'isWxAuthError'];

describe('the build (dist/)', () => {
  const out = mkdtempSync(join(tmpdir(), 'wxauth-client-build-'));
  let cjs = '';
  let esm = '';
  beforeAll(async () => {
    await build(out);
    cjs = readFileSync(join(out, 'index.cjs'), 'utf8');
    esm = readFileSync(join(out, 'index.mjs'), 'utf8');
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is ES2017: no later syntax in either format', () => {
    expect(newerThanEs2017(cjs)).toEqual([]);
    expect(newerThanEs2017(esm)).toEqual([]);
    // The scanner does see such syntax (guards against a scanner that finds nothing).
    expect(newerThanEs2017('a?.b ?? c; const o = {...p}; try {} catch {}').sort()).toEqual([
      '??',
      'object spread',
      'optional catch binding',
      'optional chaining',
    ]);
  });

  it('has no runtime dependencies: nothing is required or imported', () => {
    expect(cjs).not.toMatch(/\brequire\(/);
    expect(esm).not.toMatch(/^\s*import\s/m);
    const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
    expect(pkg.dependencies ?? {}).toEqual({});
  });

  it('CommonJS and ESM export the same public API', async () => {
    const fromCjs = createRequire(import.meta.url)(join(out, 'index.cjs'));
    const fromEsm = await import(pathToFileURL(join(out, 'index.mjs')).href);
    expect(Object.keys(fromCjs).sort()).toEqual(RUNTIME_EXPORTS);
    expect(Object.keys(fromEsm).sort()).toEqual(RUNTIME_EXPORTS);
  });

  it('ships declarations that resolve without .ts imports', () => {
    const index = readFileSync(join(out, 'index.d.ts'), 'utf8');
    expect(index).toContain("from './auth-client.js'");
    expect(index).not.toMatch(/\.ts'/);
    const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
    const entry = pkg.exports['.'];
    for (const file of [entry.types, entry.import, entry.require, pkg.main, pkg.module, pkg.types]) {
      expect(existsSync(join(out, file.replace('./dist/', '')))).toBe(true);
    }
    // WeChat DevTools' "build npm" reads the `miniprogram` folder and its index.js.
    expect(pkg.miniprogram).toBe('dist/miniprogram');
    expect(readFileSync(join(out, 'miniprogram/index.js'), 'utf8')).toBe(cjs);
  });

  it('runs in a bare ES context with only `wx`: no Node, no DOM, no globalThis needed', async () => {
    const storage = new Map<string, unknown>();
    const calls: string[] = [];
    const wx = {
      login: (o: { success: (r: { code: string }) => void }) => o.success({ code: 'c1' }),
      request: (o: { url: string; success: (r: unknown) => void }) => {
        calls.push(o.url);
        const body = {
          tokenType: 'Bearer',
          accessToken: 'a',
          expiresIn: 900,
          refreshToken: 'r',
          refreshExpiresIn: 3600,
          user: { id: 'u1', phone: null, wechat: [] },
          isNewUser: true,
        };
        o.success({ statusCode: 200, data: body, header: {} });
      },
      getStorageSync: (k: string) => storage.get(k) ?? '',
      setStorageSync: (k: string, v: unknown) => storage.set(k, v),
      removeStorageSync: (k: string) => storage.delete(k),
    };
    // The context gets only what a mini-program module sees: ES built-ins, wx, timers.
    const module = { exports: {} as Record<string, unknown> };
    const context = vm.createContext({ module, exports: module.exports, wx, setTimeout });
    vm.runInContext(`delete globalThis.globalThis;\n${cjs}`, context);
    const sdk = module.exports as {
      createAuthClient: (o: { baseURL: string }) => { login(): Promise<{ isNewUser: boolean }> };
    };
    const auth = sdk.createAuthClient({ baseURL: 'https://auth.example.com' });
    await expect(auth.login()).resolves.toMatchObject({ isNewUser: true });
    expect(calls).toEqual(['https://auth.example.com/v1/auth/wechat/login']);
    expect([...storage.keys()]).toEqual(['wxauth:session']);
  });
});
