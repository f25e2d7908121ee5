import type { ChaosPlan } from './drive.js';

export interface Preset extends ChaosPlan {
  reconcileIntervalMs: number;
  settleTimeoutMs: number;
}

/**
 * The scenario: 20,000 messages over 200 chats, 2,000 agent replies, a 60-second outage.
 * The settle timeout is long because evosync sends one Chatwoot at most 3,000 requests a minute
 * (EVOSYNC_CHATWOOT_RATE_LIMIT, Chatwoot's own default limit): what piles up behind the outage
 * drains at that pace, not at evosync's.
 */
export const DEFAULT_PRESET: Preset = {
  seed: 1, messages: 20_000, chats: 200, replies: 2_000, trafficMs: 90_000, slices: 100, outageMs: 60_000, kills: 3, downMs: 2_000, burstMs: 3_000,
  reconcileIntervalMs: 15_000, settleTimeoutMs: 1_500_000,
};

/** The same run a tenth of the size with a 10-second outage: CI's version (a little over two minutes on a loaded 2-core machine). */
export const SMALL_PRESET: Preset = {
  seed: 1, messages: 2_000, chats: 200, replies: 200, trafficMs: 30_000, slices: 50, outageMs: 10_000, kills: 3, downMs: 1_500, burstMs: 2_000,
  reconcileIntervalMs: 15_000, settleTimeoutMs: 120_000,
};
