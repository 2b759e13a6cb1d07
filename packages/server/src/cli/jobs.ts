import { loadOrCreateDevKeys, parseKeySet } from '../config/keys.ts';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import { createDeps } from '../deps.ts';
import { runJobsCommand } from '../jobs/jobs-command.ts';
import { createLogger } from '../observability/logger.ts';

/**
 * Jobs by hand, with the server's own configuration (the same WXAUTH_* variables, the same database):
 *
 *   node packages/server/src/cli/jobs.ts run session-key-check     run once now; joins or resumes a run in progress
 *   node packages/server/src/cli/jobs.ts run vault-rewrap          the same for the vault rewrap (idle if no row needs it)
 *   node packages/server/src/cli/jobs.ts list-runs [job] [--json]  run history, newest first
 *   node packages/server/src/cli/jobs.ts mark-compromised <appId> <openid>
 *                                                                  the next run resets that user's key
 *
 * Logs go to stderr, results to stdout. Exit 0 on success, 1 when the run did not complete or nothing
 * matched, 2 on usage or configuration errors. SIGINT/SIGTERM stop a run cleanly (kill -9 is fine too:
 * the next run resumes).
 */
const abort = new AbortController();
process.once('SIGINT', () => abort.abort());
process.once('SIGTERM', () => abort.abort());

runJobsCommand(
  process.argv.slice(2),
  async () => {
    const config = loadConfig();
    const keys = config.devMode ? (await loadOrCreateDevKeys(config.dataDir)).keys : parseKeySet(config.keys);
    const logger = createLogger({ level: config.logLevel, destination: process.stderr });
    return createDeps({ config, keys, logger });
  },
  {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    signal: abort.signal,
  },
).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof ConfigError ? `configuration error: ${err.message}` : String(err);
    process.stderr.write(`wxauth jobs: ${message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
