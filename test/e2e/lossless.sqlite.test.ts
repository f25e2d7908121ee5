import { it } from 'vitest';
import { tempSqliteUrl } from '../helpers/services.js';
import { runLosslessScenario } from './lossless.scenario.js';

it('2,000 messages in 50 chats reach Chatwoot exactly once and in order through faults, an outage and kill -9 (SQLite)', async () => {
  await runLosslessScenario({ databaseUrl: tempSqliteUrl(), messages: Number(process.env.E2E_MESSAGES ?? 2000), chats: 50, outageMs: Number(process.env.E2E_OUTAGE_MS ?? 30_000), seed: 11 });
}, 700_000);
