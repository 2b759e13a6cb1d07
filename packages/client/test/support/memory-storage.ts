/**
 * WeChat's synchronous storage in memory, with its limits (wechat-api.md §13.3): "单个 key 允许存储的
 * 最大数据长度为 1MB，所有数据存储上限为 10MB". A missing key reads as '' (what the runtime does in
 * practice; the docs are silent). Values are kept as their JSON, as the runtime serialises them.
 */
export const KEY_LIMIT_BYTES = 1024 * 1024;
export const TOTAL_LIMIT_BYTES = 10 * 1024 * 1024;

export interface MemoryStorage {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): void;
  removeStorageSync(key: string): void;
  clearStorageSync(): void;
  getStorageInfoSync(): { keys: string[]; currentSize: number; limitSize: number };
  /** Raw view for assertions. */
  entries(): [string, string][];
  usedBytes(): number;
}

export function createMemoryStorage(): MemoryStorage {
  const data = new Map<string, string>();
  const sizeOf = (key: string, json: string) => Buffer.byteLength(key) + Buffer.byteLength(json);
  const used = () => {
    let total = 0;
    for (const [key, json] of data) total += sizeOf(key, json);
    return total;
  };
  return {
    getStorageSync(key) {
      const json = data.get(key);
      return json === undefined ? '' : JSON.parse(json);
    },
    setStorageSync(key, value) {
      if (typeof key !== 'string' || key === '') throw new Error('setStorageSync:fail parameter error');
      const json = JSON.stringify(value);
      if (json === undefined) throw new Error('setStorageSync:fail data not serializable');
      const size = sizeOf(key, json);
      if (size > KEY_LIMIT_BYTES) throw new Error('setStorageSync:fail entry size limit reached');
      const previous = data.get(key);
      const after = used() - (previous === undefined ? 0 : sizeOf(key, previous)) + size;
      if (after > TOTAL_LIMIT_BYTES) throw new Error('setStorageSync:fail exceed storage max size 10Mb');
      data.set(key, json);
    },
    removeStorageSync(key) {
      data.delete(key);
    },
    clearStorageSync() {
      data.clear();
    },
    getStorageInfoSync() {
      return {
        keys: [...data.keys()],
        currentSize: Math.ceil(used() / 1024),
        limitSize: TOTAL_LIMIT_BYTES / 1024,
      };
    },
    entries: () => [...data.entries()],
    usedBytes: used,
  };
}
