export { createEvosync, type Evosync } from './app.js';
export { loadConfig } from './config/load.js';
export type { Config } from './config/config.js';
export { EvosyncError, ConfigError, ErrorCodes, type ErrorCode } from './errors.js';
export { normalizeEnvelope, type Normalized } from './evolution/normalize.js';
export type { ChatMessage } from './domain/message.js';
