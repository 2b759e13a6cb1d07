/**
 * Every column the vault seals, with the context its writers bind the envelope to. The rewrap job
 * must re-seal with exactly the context the writer used, or the row would stop opening: these must
 * come from vault/sealed-contexts.ts, which every writer and reader uses.
 */
export type SealedTable = 'wechat_identities' | 'wechat_access_tokens';

export const SEALED_TABLES: readonly SealedTable[] = ['wechat_identities', 'wechat_access_tokens'];

export { accessTokenContext, identitySessionKeyContext } from '../sealed-contexts.ts';
