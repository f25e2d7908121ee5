import { type PrivateBroker, privateBrokerProblem, startPrivateBroker as startNode } from '../../chaos/private-broker.js';

export type { PrivateBroker };

const REQUIRE = process.env['EVOSYNC_REQUIRE_SERVICES'] === '1';

/**
 * A RabbitMQ node of the test's own (see chaos/private-broker.ts, shared with `npm run chaos`).
 * The chaos e2e closes every connection and restarts the broker; doing that to the shared broker
 * would break every other test file running in parallel (and anyone else using it). Needs a local
 * RabbitMQ installation and root (to run it as the rabbitmq user); otherwise the test skips loudly,
 * or fails when EVOSYNC_REQUIRE_SERVICES=1.
 */
export async function startPrivateBroker(): Promise<PrivateBroker | null> {
  const problem = privateBrokerProblem();
  if (problem) {
    if (REQUIRE) throw new Error(`a private RabbitMQ node is required (EVOSYNC_REQUIRE_SERVICES=1) but ${problem}`);
    console.warn(`\n*** SKIPPING RabbitMQ chaos e2e: cannot start a private RabbitMQ node (${problem}). ***\n`);
    return null;
  }
  return startNode('evosync-e2e');
}
