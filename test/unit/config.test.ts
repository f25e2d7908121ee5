import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const base = {
  CHATWOOT_URL: 'https://chat.example.com/',
  CHATWOOT_API_TOKEN: 'tok',
  CHATWOOT_ACCOUNT_ID: '1',
  CHATWOOT_INBOX_ID: '7',
  EVOSYNC_WEBHOOK_TOKEN: 'a-long-enough-secret-token',
};

describe('loadConfig', () => {
  it('applies defaults and normalises URLs', () => {
    const c = loadConfig(base);
    expect(c.database.url).toBe('sqlite:./evosync.db');
    expect(c.http.port).toBe(8090);
    expect(c.chatwoot).toEqual({ url: 'https://chat.example.com', apiToken: 'tok', accountId: 1, inboxId: 7 });
    expect(c.delivery.concurrency).toBe(32);
    expect(c.instances).toBeNull();
    expect(Object.isFrozen(c.delivery)).toBe(true);
  });

  it('reports every problem at once, by variable name', () => {
    try {
      loadConfig({ EVOSYNC_PORT: 'eighty', CHATWOOT_URL: 'ftp://x', EVOSYNC_DELIVERY_CONCURENCY: '3' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/EVOSYNC_DELIVERY_CONCURENCY: unknown setting/);
      expect(problems).toMatch(/EVOSYNC_PORT/);
      expect(problems).toMatch(/CHATWOOT_URL/);
    }
  });

  it('requires the upstream settings and the webhook token for the service', () => {
    try {
      loadConfig({});
      expect.unreachable();
    } catch (error) {
      const problems = (error as ConfigError).problems;
      for (const name of ['CHATWOOT_URL', 'CHATWOOT_API_TOKEN', 'CHATWOOT_ACCOUNT_ID', 'CHATWOOT_INBOX_ID', 'EVOSYNC_WEBHOOK_TOKEN']) {
        expect(problems.some((p) => p.startsWith(name))).toBe(true);
      }
    }
    expect(() => loadConfig({}, { require: 'database' })).not.toThrow();
    const { EVOSYNC_WEBHOOK_TOKEN: _token, ...withoutToken } = base;
    expect(() => loadConfig(withoutToken)).toThrow(/EVOSYNC_WEBHOOK_TOKEN/);
    expect(loadConfig({ ...withoutToken, EVOSYNC_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', EVOSYNC_INSTANCES: 'a' }).webhookToken).toBeNull();
  });

  it('maps instances to their own inboxes from a config file', () => {
    const file = JSON.stringify({ instances: [{ instance: 'sales', chatwoot: { inboxId: 9 } }, { instance: 'support' }] });
    const c = loadConfig({ ...base, EVOSYNC_CONFIG_FILE: '/x.json', EVOSYNC_INSTANCES: 'extra' }, { readFile: () => file });
    expect(c.instances).toEqual(['extra', 'sales', 'support']);
    expect(c.targets['sales']?.inboxId).toBe(9);
    expect(c.targets['support']?.inboxId).toBe(7);
  });

  it('rejects a malformed config file with the path of the problem', () => {
    expect(() => loadConfig({ ...base, EVOSYNC_CONFIG_FILE: '/x.json' }, { readFile: () => '{"instances":[{"name":"x"}]}' })).toThrow(/EVOSYNC_CONFIG_FILE instances\.0/);
  });
});
