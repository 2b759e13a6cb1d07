import type { SealContext } from './vault.types.ts';

/**
 * The one definition of what each sealed column is bound to. Writers (login, phone login, the access
 * token store), readers (decrypt, the session-key job) and the rewrap job must all use exactly these,
 * or a row sealed by one would stop opening for another.
 */
export function identitySessionKeyContext(appId: string, openid: string): SealContext {
  return { table: 'wechat_identities', column: 'session_key_enc', rowId: `${appId}:${openid}` };
}

export function accessTokenContext(appId: string): SealContext {
  return { table: 'wechat_access_tokens', column: 'token_enc', rowId: appId };
}
