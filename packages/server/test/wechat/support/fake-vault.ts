import type { SealContext, Vault } from '../../../src/vault/vault.types.ts';

/**
 * A stand-in for the real vault (a colleague owns it): reversible, bound to its context like the real
 * one, and never storing the plaintext as-is, so a test can check the row holds no readable token.
 */
export function createFakeVault(): Vault & { opened: number } {
  const bind = (context: SealContext) => `${context.table}/${context.column}/${context.rowId}`;
  const vault = {
    opened: 0,
    seal(plaintext: string, context: SealContext): string {
      const ct = Buffer.from(plaintext, 'utf8').reverse().toString('base64');
      return JSON.stringify({ v: 1, kid: 'test', alg: 'fake', nonce: bind(context), ct });
    },
    open(envelope: string, context: SealContext): string | null {
      try {
        const parsed = JSON.parse(envelope) as { nonce?: unknown; ct?: unknown };
        if (parsed.nonce !== bind(context) || typeof parsed.ct !== 'string') return null;
        vault.opened++;
        return Buffer.from(parsed.ct, 'base64').reverse().toString('utf8');
      } catch {
        return null;
      }
    },
    kidOf: (envelope: string) => (envelope.startsWith('{') ? 'test' : null),
    primaryKid: () => 'test',
    keys: () => [{ kid: 'test', status: 'primary' as const }],
  };
  return vault;
}
