/**
 * @wxauth/client — the mini-program SDK of wxauth. Everything public is exported here; the rest of
 * the package is internal.
 */
export { createAuthClient } from './auth-client.ts';
export type {
  AuthClient,
  AuthClientOptions,
  EncryptedDataSource,
  LoginOptions,
  LogoutOptions,
  SmsLoginOptions,
} from './auth-client.types.ts';
export {
  type ClientErrorCode,
  isWxAuthError,
  type ServerErrorCode,
  WxAuthError,
  type WxAuthErrorCode,
  type WxAuthErrorOptions,
} from './errors.ts';
export {
  createWxPlatform,
  type Platform,
  type PlatformRequest,
  type PlatformResponse,
  type PlatformStorage,
  type WxLike,
} from './platform.ts';
export type {
  ApiResponse,
  AuthState,
  ChangeListener,
  ChangeReason,
  EncryptedData,
  HttpMethod,
  LoginResult,
  PhoneNumberEvent,
  RequestOptions,
  SessionInfo,
  SmsSendResult,
  TokenResponse,
  User,
  WechatIdentity,
} from './types.ts';
