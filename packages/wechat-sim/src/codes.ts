/** A one-time credential (wx.login code or getPhoneNumber code) and what it was issued for. */
export interface CodeRecord {
  appId: string;
  expiresAt: number;
  used: boolean;
}

export interface CodeStore<T extends CodeRecord> {
  add(code: string, record: T): void;
  /** The record, or undefined once unknown or expired (WeChat reports both as 40029, §2). */
  find(code: string, now: number): T | undefined;
  clear(): void;
}

/** Sweep after this many insertions, so a long benchmark keeps memory bounded by the live codes. */
const SWEEP_EVERY = 4096;

/**
 * Used codes stay until they expire so a replay inside the lifetime can answer 40163 "code been used";
 * after expiry WeChat forgets them and answers 40029 like for any unknown code (§2).
 */
export function createCodeStore<T extends CodeRecord>(now: () => number): CodeStore<T> {
  const records = new Map<string, T>();
  let insertsSinceSweep = 0;

  function sweep(): void {
    const t = now();
    for (const [code, record] of records) if (record.expiresAt <= t) records.delete(code);
    insertsSinceSweep = 0;
  }

  return {
    add(code, record) {
      records.set(code, record);
      if (++insertsSinceSweep >= SWEEP_EVERY) sweep();
    },
    find(code, t) {
      const record = records.get(code);
      if (!record) return undefined;
      if (record.expiresAt <= t) {
        records.delete(code);
        return undefined;
      }
      return record;
    },
    clear: () => {
      records.clear();
      insertsSinceSweep = 0;
    },
  };
}
