import { createAuth } from './auth.ts';
import { loadComparatorConfig } from './config.ts';
import { createComparatorDb } from './db.ts';
import { buildComparatorApp } from './http.ts';
import { createCode2SessionClient } from './jscode2session.ts';
import { createSmsProvider } from './sms.ts';

/**
 * The better-auth comparator for bench/run.ts (S1 login, S2 get-session, S3 session update, S4 phone
 * OTP). Started as a child process; the environment is described in config.ts and the runner's docs.
 * Prints one `READY <url>` line on stdout and nothing else; SIGTERM closes it.
 */
const config = loadComparatorConfig(process.env);
const db = createComparatorDb(config);
const code2Session = createCode2SessionClient({
  baseUrl: config.simUrl,
  appId: config.appId,
  secret: config.appSecret,
});
const sms = createSmsProvider(config.smsDelayMs);
const auth = createAuth({ config, db, code2Session, sms });
// better-auth's own migration (what `auth migrate` runs), against the empty schema or fresh PGlite.
await (await auth.$context).runMigrations();

const app = buildComparatorApp({ auth, sms });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`READY ${address}\n`);

let closing = false;
process.on('SIGTERM', async () => {
  if (closing) return;
  closing = true;
  await app.close();
  await code2Session.close();
  await db.close();
  process.exit(0);
});
