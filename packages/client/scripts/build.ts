import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

/**
 * Builds the SDK for the mini-program runtime: ES2017 (every supported base library runs it), one
 * bundled file per module format, no runtime dependencies, plus type declarations.
 *   dist/index.cjs              CommonJS: `main` and `exports.require`
 *   dist/index.mjs              ESM: `module` and `exports.import`, for Taro, uni-app and other bundlers
 *   dist/miniprogram/index.js   the CommonJS build again, where package.json's `miniprogram` field points:
 *                               WeChat DevTools' "build npm" takes that folder as is (it knows `.js`, not `.cjs`)
 *   dist/*.d.ts                 types
 */
export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(PACKAGE_DIR, 'src/index.ts');

/** esbuild options shared by the package build and the dev server's playground. */
export const BUNDLE_OPTIONS: BuildOptions = {
  entryPoints: [ENTRY],
  bundle: true,
  target: 'es2017',
  platform: 'neutral',
  charset: 'utf8',
  legalComments: 'none',
  logLevel: 'silent',
};

/** One format of the bundle, in memory. */
export async function bundle(format: 'esm' | 'cjs'): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({ ...BUNDLE_OPTIONS, format, write: false });
  const file = result.outputFiles?.[0];
  if (!file) throw new Error('esbuild produced no output');
  return file.text;
}

export async function build(outDir = join(PACKAGE_DIR, 'dist')): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const [esm, cjs] = await Promise.all([bundle('esm'), bundle('cjs')]);
  writeFileSync(join(outDir, 'index.mjs'), esm);
  writeFileSync(join(outDir, 'index.cjs'), cjs);
  mkdirSync(join(outDir, 'miniprogram'));
  writeFileSync(join(outDir, 'miniprogram/index.js'), cjs);
  emitDeclarations(outDir);
}

/**
 * tsc writes the declarations; the sources import with `.ts` (Node's type stripping needs it), so the
 * specifiers are rewritten to `.js`, which every consumer's TypeScript resolves to the `.d.ts`.
 */
function emitDeclarations(outDir: string): void {
  const tsc = join(PACKAGE_DIR, '../../node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(PACKAGE_DIR, 'tsconfig.build.json'), '--outDir', outDir], {
    stdio: 'inherit',
  });
  for (const name of readdirSync(outDir)) {
    if (!name.endsWith('.d.ts')) continue;
    const file = join(outDir, name);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/(from\s+'\.\/[^']+)\.ts'/g, "$1.js'"));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build();
  process.stdout.write(`built ${join(PACKAGE_DIR, 'dist')}\n`);
}
