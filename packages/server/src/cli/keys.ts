import { generateKeySetJson } from '../config/keys.ts';

/**
 * `node packages/server/src/cli/keys.ts generate` prints a new key set for WXAUTH_KEYS.
 * Rotation steps (add, promote, rewrap, retire) come with the key-rotation job.
 */
const [command] = process.argv.slice(2);
if (command === 'generate') {
  process.stdout.write(`${await generateKeySetJson()}\n`);
} else {
  process.stderr.write('usage: node packages/server/src/cli/keys.ts generate\n');
  process.exit(2);
}
