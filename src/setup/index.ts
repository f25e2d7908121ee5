export { runSetup, DEFAULT_INBOX_NAME, type SetupOptions } from './run.js';
export { formatSetup } from './format.js';
export type { SetupReport, SetupStep, StepStatus } from './types.js';
