import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSimClock, type SimClock } from '../clock.ts';
import { sleep } from '../http-io.ts';
import { createRandom, type RandomSource } from '../random.ts';
import { createBoundedLog, createSmsFaultQueue, sendBody } from './common.ts';
import type { SmsSimFault, SmsSimMessage, SmsSimRequestRecord, SmsVendor, SmsVendorSim } from './types.ts';

/** Bodies above this are refused unread; SendSms bodies are a few hundred bytes. */
const MAX_BODY_BYTES = 1024 * 1024;

/** A request as a vendor's logic sees it: raw bytes, because both signatures hash the exact body. */
export interface VendorRequest {
  method: string;
  path: string;
  /** The query string exactly as sent, without '?'. */
  rawQuery: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The record already logged for this request; the logic fills in action, phones, authenticated. */
  record: SmsSimRequestRecord;
}

export interface VendorReply {
  status: number;
  contentType: string;
  body: string;
  /** What the record shows as `code`. */
  code: string;
}

/** Shared state and plumbing of one vendor sim; the vendor file supplies `handle`. */
export interface VendorBase {
  clock: SimClock;
  random: RandomSource;
  messages: ReturnType<typeof createBoundedLog<SmsSimMessage>>;
  takeFault(): SmsSimFault | undefined;
  delay(ms: number): Promise<void>;
}

/**
 * `handle` answers with a reply, or with null to stall (acceptThenStall): the socket stays open until
 * the client gives up or the server closes, like a vendor that accepted the message and then hung.
 */
export function createVendorSim(
  vendor: SmsVendor,
  options: { seed?: number | string; now?: () => number; maxRecords?: number },
  build: (base: VendorBase) => {
    handle(request: VendorRequest): Promise<VendorReply | null>;
    resetState(): void;
  },
): SmsVendorSim {
  const clock = createSimClock(options.now);
  const max = options.maxRecords ?? 10_000;
  const messages = createBoundedLog<SmsSimMessage>(max);
  const requests = createBoundedLog<SmsSimRequestRecord>(max);
  const faults = createSmsFaultQueue();
  const pending = new Set<NodeJS.Timeout>();
  const base: VendorBase = {
    clock,
    random: createRandom(options.seed, `sms-${vendor}`),
    messages,
    takeFault: faults.take,
    delay: (ms) => sleep(ms, pending),
  };
  const logic = build(base);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: SmsSimRequestRecord = {
      vendor,
      action: null,
      at: clock.now(),
      authenticated: false,
      phones: [],
      code: null,
      status: null,
    };
    requests.add(record);
    const body = await readRaw(req);
    if (body === null) {
      record.status = 413;
      record.code = 'HTTP 413';
      sendBody(res, 413, 'text/plain', 'Request Entity Too Large');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const rawQuery = (req.url ?? '').includes('?')
      ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1)
      : '';
    const reply = await logic.handle({
      method: req.method ?? 'GET',
      path: url.pathname,
      rawQuery,
      headers: req.headers,
      body,
      record,
    });
    if (reply === null) return;
    record.status = reply.status;
    record.code = reply.code;
    sendBody(res, reply.status, reply.contentType, reply.body);
  }

  return {
    vendor,
    handler(req, res) {
      route(req, res).catch((error: unknown) => {
        sendBody(res, 500, 'text/plain', `simulator error: ${String(error)}`);
      });
    },
    messages: (phone) => messages.list().filter((m) => phone === undefined || m.phone === phone),
    lastCode(phone) {
      const list = messages.list().filter((m) => m.phone === phone);
      return list[list.length - 1]?.code ?? null;
    },
    requests: () => requests.list().map((r) => ({ ...r, phones: [...r.phones] })),
    injectFault: faults.add,
    clearFaults: faults.clear,
    advanceClock: clock.advance,
    reset() {
      messages.clear();
      requests.clear();
      faults.clear();
      logic.resetState();
    },
    close() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}

function readRaw(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
