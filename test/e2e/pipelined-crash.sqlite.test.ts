import { it } from 'vitest';
import { tempSqliteUrl } from '../helpers/services.js';
import { runPipelinedCrash } from './pipelined-crash.scenario.js';

it('messages sent while the previous outcome commits are looked up after kill -9, never sent twice (SQLite)', async () => {
  await runPipelinedCrash(tempSqliteUrl());
}, 400_000);
