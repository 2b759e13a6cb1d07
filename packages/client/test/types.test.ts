import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The compile-only checks: the SDK's sources and type-tests/ against the SDK's own tsconfig — the
 * mini-program runtime's view (ES2017 library, official wx typings, no Node, no DOM). The root
 * `tsc` checks the sources too, but with Node's types, so it could not catch a Node API creeping in.
 */
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = join(PACKAGE_DIR, 'tsconfig.json');

function compile(extra: Record<string, string> = {}): { files: string[]; errors: string[] } {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    CONFIG,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('cannot read tsconfig');
  const host = ts.createCompilerHost(parsed.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError) =>
    name in extra ? ts.createSourceFile(name, extra[name]!, version) : getSourceFile(name, version, onError);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name in extra || fileExists(name);
  const program = ts.createProgram([...parsed.fileNames, ...Object.keys(extra)], parsed.options, host);
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${d.file.fileName.replace(`${PACKAGE_DIR}/`, '')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : '';
    return `${where} TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
  return { files: parsed.fileNames, errors };
}

describe('public API types (compile-only)', () => {
  it('the sources and type-tests/ compile for the mini-program runtime, every @ts-expect-error used', () => {
    const { files, errors } = compile();
    expect(files.some((f) => f.endsWith('type-tests/public-api.ts'))).toBe(true);
    expect(files.some((f) => f.endsWith('src/auth-client.ts'))).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);

  it('the check bites: Node APIs and DOM globals do not compile in the SDK', () => {
    const probe = join(PACKAGE_DIR, 'src/__probe__.ts');
    const { errors } = compile({
      [probe]:
        "export const a = Buffer.from('x');\nexport const b = process.env;\nexport const c = window.localStorage;\n",
    });
    const probeErrors = errors.filter((e) => e.startsWith('src/__probe__.ts'));
    expect(probeErrors).toHaveLength(3);
    expect(probeErrors.join('\n')).toMatch(/Cannot find name 'Buffer'/);
  }, 60_000);
});
