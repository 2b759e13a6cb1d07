export {
  type AccessTokenRecord,
  type AccessTokenRepository,
  createAccessTokenRepository,
} from './access-token.repository.ts';
export {
  type AccessTokenEvent,
  type AccessTokenManager,
  type AccessTokenManagerOptions,
  createAccessTokenManager,
} from './access-token.ts';
export { type BreakerOptions, type BreakerState, DEFAULT_BREAKER } from './circuit-breaker.ts';
export {
  kindOfErrcode,
  parseRid,
  toAppError,
  type WeChatApi,
  WeChatError,
  type WeChatErrorKind,
} from './errcodes.ts';
export type { Code2SessionResult, PhoneNumberResult, StableTokenResult } from './responses.ts';
export {
  createRetryBudget,
  DEFAULT_RETRY,
  type RetryBudget,
  type RetryBudgetOptions,
  type RetryOptions,
} from './retry.ts';
export { DEFAULT_BASE_URL, DEFAULT_TIMEOUTS } from './wechat-client.options.ts';
export { createWeChatClient, type WeChatClient, type WeChatClientOptions } from './wechat-client.ts';
