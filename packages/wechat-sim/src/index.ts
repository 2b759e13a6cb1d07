export { signSessionKey } from './crypto.ts';
export { createSimulator, startSimulator } from './simulator.ts';
export { createAliyunSmsSim } from './sms/aliyun.ts';
export { createSmsSimulator, startSmsSimulator } from './sms/sms-simulator.ts';
export { createTencentSmsSim } from './sms/tencent.ts';
export type {
  AliyunSmsLimits,
  AliyunSmsSimOptions,
  SmsSimFault,
  SmsSimMessage,
  SmsSimRequestRecord,
  SmsSimulator,
  SmsSimulatorOptions,
  SmsVendor,
  SmsVendorSim,
  TencentSmsLimits,
  TencentSmsSimOptions,
} from './sms/types.ts';
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
