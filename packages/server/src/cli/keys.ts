import { runKeysCommand } from '../vault/rotation/keys-command.ts';

/**
 * `node packages/server/src/cli/keys.ts <generate|status|add|promote|rewrap|retire>`: the key set and
 * vault key rotation (docs/operations/key-rotation.md). The commands live with the rotation code.
 */
process.exitCode = await runKeysCommand(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});
