import type { AuthState, ChangeListener, ChangeReason } from './types.ts';

// A host function every mini-program runtime has, but not part of the ES2017 library the SDK is
// checked against; declared here only, so it cannot clash with Node's or the DOM's typings.
declare function setTimeout(handler: () => void, ms: number): unknown;

export interface Emitter {
  on(listener: ChangeListener): () => void;
  emit(state: AuthState, reason: ChangeReason): void;
}

/** The `onChange` listeners. A throwing listener neither stops the others nor breaks the SDK. */
export function createEmitter(): Emitter {
  const listeners: ChangeListener[] = [];
  return {
    on(listener) {
      listeners.push(listener);
      return () => {
        const index = listeners.indexOf(listener);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
    emit(state, reason) {
      for (const listener of listeners.slice()) {
        try {
          listener(state, reason);
        } catch (error) {
          // Rethrown on its own tick: the runtime's error handler (App.onError) still sees it.
          setTimeout(() => {
            throw error;
          }, 0);
        }
      }
    },
  };
}
