import { drainCpu } from '../lib/contenders.ts';
import { sleep } from '../lib/http.ts';
import { nextPhone } from '../lib/identities.ts';
import { closedLoop, type PhaseResult } from '../lib/load.ts';
import { type Row, rowOf, rpsRatio, type Scenario, unavailableRow } from '../lib/results.ts';
import { type Contender, type ContenderSamples, interleave } from '../lib/rounds.ts';
import {
  type BetterAuthSettings,
  betterAuthAvailable,
  describeBetterAuth,
  type System,
  startBetterAuth,
  startWxauth,
  stopAll,
  tryStart,
} from '../lib/systems.ts';
import { startSim } from '../sim/client.ts';
import { betterAuthOtpApi, checkOtpRules, type OtpApi, smsHeaders, wxauthOtpApi } from './s4-otp.ts';

const SEND_CONNECTIONS = 100;
const VERIFY_CONNECTIONS = 64;
/** better-auth's default (sendOTP not awaited) and the variant that awaits it like wxauth does. */
const BA_DEFAULT: BetterAuthSettings = { cookieCache: false, awaitSend: false, updateAge: 86_400 };
const BA_AWAITED: BetterAuthSettings = { cookieCache: false, awaitSend: true, updateAge: 86_400 };

interface Target {
  id: string;
  label: string;
  url: string;
  api: OtpApi;
  /** Phones whose send was accepted, then (after the send phase) their codes. */
  sent: string[];
  pool: { phone: string; code: string }[];
}

/**
 * S4, SMS OTP. Send phase: every request a new phone (one code per phone per 60 s) from a new client
 * address; the provider takes 100 ms per message on both sides. Verify phase: each system verifies
 * the codes it sent, each code once (so a phase is a fixed number of verifies, with a time cap),
 * which creates the user and a session. Then the per-phone limit and a 3-way verify race are checked.
 */
export const s4: Scenario = {
  id: 'S4',
  title: 'SMS OTP send and verify',
  perStore: true,
  async run({ profile, store, log }) {
    const sim = await startSim();
    const systems: (System | { unavailable: string })[] = [];
    try {
      const missing = { unavailable: 'comparators/better-auth/server.ts does not exist yet' };
      const [wxauth, baDefault, baAwaited] = await Promise.all([
        startWxauth(store, sim),
        betterAuthAvailable() ? tryStart(() => startBetterAuth(store, sim, BA_DEFAULT)) : missing,
        betterAuthAvailable() ? tryStart(() => startBetterAuth(store, sim, BA_AWAITED)) : missing,
      ]);
      systems.push(wxauth, baDefault, baAwaited);
      const targets: Target[] = [
        { id: 'wxauth', label: 'wxauth', url: wxauth.url, api: wxauthOtpApi(wxauth.url), sent: [], pool: [] },
      ];
      for (const [id, ba, settings] of [
        ['better-auth', baDefault, BA_DEFAULT],
        ['better-auth awaited', baAwaited, BA_AWAITED],
      ] as const) {
        if ('url' in ba) {
          targets.push({
            id,
            label: `better-auth (${describeBetterAuth(settings)})`,
            url: ba.url,
            api: betterAuthOtpApi(ba.url),
            sent: [],
            pool: [],
          });
        }
      }

      log(`  send, closed loop, ${SEND_CONNECTIONS} connections`);
      const sendSamples = await interleave(targets.map(sendContender), profile, log);
      // better-auth's default answers before its 100 ms provider call is done.
      await sleep(300);
      for (const t of targets) {
        const codes = await t.api.codes(t.sent);
        t.pool = t.sent.flatMap((phone, i) => (codes[i] ? [{ phone, code: codes[i]! }] : []));
      }
      log(
        `  verify, closed loop, ${VERIFY_CONNECTIONS} connections (codes on hand: ${targets.map((t) => `${t.id} ${t.pool.length}`).join(', ')})`,
      );
      const verifySamples = await interleave(
        targets.map((t) => verifyContender(t, profile.rounds + 1)),
        profile,
        log,
      );
      const checks = new Map<string, string>();
      for (const t of targets) checks.set(t.id, await checkOtpRules(t.url, t.api, t.id === 'wxauth'));

      return report(store.label, targets, sendSamples, verifySamples, checks, [baDefault, baAwaited]);
    } finally {
      await stopAll(systems);
      await sim.child.stop();
    }
  },
};

function sendContender(t: Target): Contender {
  return {
    id: t.id,
    drain: () => drainCpu(t.url),
    run: (seconds) =>
      closedLoop(
        {
          origin: t.url,
          connections: SEND_CONNECTIONS,
          cpuUrl: t.url,
          next: (ctx) => {
            const phone = nextPhone();
            ctx.phone = phone;
            return {
              method: 'POST',
              path: t.api.sendPath,
              headers: smsHeaders(),
              body: t.api.sendBody(phone),
            };
          },
          onResponse: (status, _body, ctx) => {
            if (status >= 200 && status < 300) t.sent.push(ctx.phone as string);
          },
        },
        { durationSec: seconds },
      ),
  };
}

/** Each run verifies an equal share of the codes on hand (warm-up included), each code once. */
function verifyContender(t: Target, runs: number): Contender {
  const share = Math.floor(t.pool.length / runs);
  let next = 0;
  return {
    id: t.id,
    drain: () => drainCpu(t.url),
    run: async (seconds): Promise<PhaseResult> => {
      const amount = Math.min(share, t.pool.length - next);
      if (amount < 8)
        throw new Error(`only ${amount} codes left to verify (the send phase produced too few)`);
      return closedLoop(
        {
          origin: t.url,
          // autocannon needs at least one request per connection.
          connections: Math.min(VERIFY_CONNECTIONS, amount),
          cpuUrl: t.url,
          next: () => {
            const item = t.pool[next++] ?? { phone: nextPhone(), code: '000000' };
            return {
              method: 'POST',
              path: t.api.verifyPath,
              headers: smsHeaders(),
              body: t.api.verifyBody(item.phone, item.code),
            };
          },
        },
        { amount, maxSec: Math.max(30, seconds * 5) },
      );
    },
  };
}

function report(
  storeLabel: string,
  targets: Target[],
  sendSamples: Map<string, ContenderSamples>,
  verifySamples: Map<string, ContenderSamples>,
  checks: Map<string, string>,
  bas: (System | { unavailable: string })[],
) {
  const rows: Row[] = [];
  const rowsFor = (phase: 'send' | 'verify', samples: Map<string, ContenderSamples>) => {
    const load =
      phase === 'send'
        ? `closed, ${SEND_CONNECTIONS} conn`
        : `closed, ${VERIFY_CONNECTIONS} conn, each code once`;
    const base = { scenario: 'S4' as const, store: storeLabel, load };
    const path = (t: Target) => (phase === 'send' ? t.api.sendPath : t.api.verifyPath);
    const made = targets.map((t) =>
      rowOf(
        {
          ...base,
          system: `${t.label} ${phase} POST ${path(t)}`,
          ...(phase === 'verify' ? { note: checks.get(t.id) } : {}),
        },
        samples.get(t.id),
      ),
    );
    for (const row of made.slice(1)) row.ratio = rpsRatio(made[0], row);
    if (targets.length === 1) {
      const why =
        bas.find((b): b is { unavailable: string } => 'unavailable' in b)?.unavailable ?? 'not started';
      made.push(unavailableRow({ ...base, system: `better-auth ${phase}` }, why));
    }
    rows.push(...made);
    return made;
  };
  rowsFor('send', sendSamples);
  const verify = rowsFor('verify', verifySamples);
  const baVerify = verify[targets.findIndex((t) => t.id === 'better-auth')];
  return {
    rows,
    metrics: { 'S4.vsBetterAuthVerify': baVerify ? rpsRatio(verify[0], baVerify) : Number.NaN },
    notes: [
      'S4: sends wait for the 100 ms provider call on wxauth, and on better-auth only when sendOTP is awaited; per-IP SMS limits stay on (each request comes from its own X-Forwarded-For address).',
    ],
  };
}
