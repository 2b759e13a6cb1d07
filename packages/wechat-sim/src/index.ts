export { signSessionKey } from './crypto.ts';
export { createSimulator, startSimulator } from './simulator.ts';
export type {
  SimAppConfig,
  SimCallRecord,
  SimEncryptInput,
  SimEncryptResult,
  SimFault,
  SimLatencyDistribution,
  SimLoginInput,
  SimLoginResult,
  SimPath,
  SimPhoneCodeInput,
  SimRateLimit,
  Simulator,
  SimulatorOptions,
} from './types.ts';
export { SIM_PATHS } from './types.ts';
export { SimInputError } from './validate.ts';
