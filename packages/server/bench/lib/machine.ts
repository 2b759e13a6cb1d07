import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  packages: Record<string, string>;
}

const PACKAGES = [
  'fastify',
  'better-auth',
  'pg',
  '@electric-sql/pglite',
  'jose',
  'undici',
  'kysely',
  'autocannon',
  '@fastify/rate-limit',
  'rate-limiter-flexible',
  'ioredis',
];
const ROOTS = ['../../node_modules/', '../../../../node_modules/'].map((r) =>
  fileURLToPath(new URL(r, import.meta.url)),
);

/** The installed version, read from the package's own package.json (not all of them export it). */
function installedVersion(name: string): string {
  for (const root of ROOTS) {
    try {
      return (JSON.parse(readFileSync(`${root}${name}/package.json`, 'utf8')) as { version: string }).version;
    } catch {
      // not installed under this root; try the next
    }
  }
  return 'not installed';
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    packages: Object.fromEntries(PACKAGES.map((p) => [p, installedVersion(p)])),
  };
}
