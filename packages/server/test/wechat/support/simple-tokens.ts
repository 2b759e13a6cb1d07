import type { WeChatClient } from '../../../src/adapters/wechat/index.ts';

/**
 * A minimal in-memory token holder for client tests that are not about the token manager (that one is
 * tested on a real database in access-token.test.ts).
 */
export function createSimpleTokens(client: () => WeChatClient) {
  let token: string | null = null;
  let fetches = 0;
  const fetch = async () => {
    fetches++;
    token = (await client().fetchStableToken(false)).accessToken;
    return token;
  };
  return {
    fetches: () => fetches,
    get: async () => token ?? (await fetch()),
    invalidate: async (bad: string) => (token === bad || token === null ? await fetch() : token),
  };
}
