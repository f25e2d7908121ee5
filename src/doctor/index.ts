export { runDoctor, type DoctorOptions, type DoctorReport } from './run.js';
export { formatCheck, formatReport } from './format.js';
export type { CheckId, CheckResult, CheckStatus } from './types.js';
