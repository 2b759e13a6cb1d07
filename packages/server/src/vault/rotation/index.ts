export {
  addVaultKey,
  assertRetirable,
  KeyRotationError,
  type KeySetDocument,
  newVaultKid,
  parseKeySetDocument,
  promoteVaultKey,
  retireVaultKey,
  type VaultKeyEntry,
} from './key-set-document.ts';
export {
  createRewrapJob,
  DEFAULT_REWRAP_BATCH,
  type RewrapJob,
  type RewrapProgress,
  type RewrapResult,
  type UnreadableRows,
} from './rewrap-job.ts';
export { createRotationRepository, type RotationRepository } from './rotation.repository.ts';
export {
  countRowsWithKid,
  describeRotation,
  formatRotationStatus,
  type RotationStatus,
  readKidUsage,
} from './rotation-status.ts';
export {
  accessTokenContext,
  identitySessionKeyContext,
  SEALED_TABLES,
  type SealedTable,
} from './sealed-columns.ts';
export {
  createVaultRewrapJob,
  VAULT_REWRAP_JOB,
  type VaultRewrapJob,
  type VaultRewrapSummary,
} from './vault-rewrap.job.ts';
