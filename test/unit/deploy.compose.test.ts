import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SETTINGS } from '../../src/config/schema.js';

/**
 * Docker is not available where these tests run, so the image and the stack are checked as files:
 * the compose file parses and carries the wiring that makes the stack work, and the Dockerfile has
 * the properties the README promises.
 */
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  command?: unknown;
  volumes?: string[];
  profiles?: string[];
}
const compose = parse(read('deploy/docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const env = (name: string): Record<string, string> => compose.services[name]?.environment ?? {};

describe('deploy/docker-compose.yml', () => {
  it('parses and has the whole stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['chatwoot', 'chatwoot-postgres', 'chatwoot-redis', 'chatwoot-sidekiq', 'evolution-api', 'evosync', 'grafana', 'postgres', 'prometheus', 'rabbitmq', 'rabbitmq-policy', 'redis'].sort(),
    );
    expect(compose.services['chatwoot-postgres']?.image).toMatch(/pgvector/);
    expect(compose.services['chatwoot-sidekiq']?.command).toEqual(['bundle', 'exec', 'sidekiq', '-C', 'config/sidekiq.yml']);
    expect(compose.services['evosync']?.build).toMatchObject({ context: '..', dockerfile: 'Dockerfile' });
    // Every named volume a service mounts is declared.
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.')) expect(Object.keys(compose.volumes), `${name}: ${v}`).toContain(source);
      }
    }
  });

  it("wires Evolution for evosync: built-in Chatwoot off, messages stored, events to RabbitMQ's global exchange", () => {
    const evo = env('evolution-api');
    expect(evo['CHATWOOT_ENABLED']).toBe('false');
    expect(evo['DATABASE_SAVE_DATA_NEW_MESSAGE']).toBe('true');
    expect(evo['RABBITMQ_ENABLED']).toBe('true');
    expect(evo['RABBITMQ_GLOBAL_ENABLED']).toBe('true');
    expect(evo['RABBITMQ_PREFIX_KEY']).toBeTruthy(); // unset = dead "undefined.<event>" queues
    for (const e of ['MESSAGES_UPSERT', 'SEND_MESSAGE', 'CONNECTION_UPDATE']) expect(evo[`RABBITMQ_EVENTS_${e}`], e).toBe('true');
    const sync = env('evosync');
    expect(sync['EVOSYNC_AMQP_MODE']).toBe('global');
    expect(sync['EVOSYNC_AMQP_EXCHANGE']).toBe(evo['RABBITMQ_EXCHANGE_NAME']);
    expect(sync['EVOSYNC_AMQP_URL']).toMatch(/^amqp:\/\/[^@]+@rabbitmq:5672\//);
    expect(sync['EVOLUTION_URL']).toBe('http://evolution-api:8080');
    expect(sync['CHATWOOT_URL']).toBe('http://chatwoot:3000');
    expect(sync['EVOSYNC_DATABASE_URL']).toMatch(/^postgres:\/\/evosync:.*@postgres:5432\/evosync$/);
  });

  it('gives evosync only settings it knows (it refuses to start on an unknown EVOSYNC_* variable)', () => {
    const known = new Set(SETTINGS.map((s) => s.env));
    const unknown = Object.keys(env('evosync')).filter((k) => !known.has(k));
    expect(unknown).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  it('is multi-stage on node:20-slim, runs as a non-root user, checks /healthz and starts the service', () => {
    expect(dockerfile.match(/^FROM node:20-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/apt-get install [^\n]*python3 make g\+\+/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/src\/bin\/evosync\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["start"\]$/m);
    // The bin the image runs is the one package.json builds.
    expect((JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin['evosync']).toBe('dist/src/bin/evosync.js');
  });

  it('copies only what exists and what the build needs', () => {
    const ignore = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) {
        expect(() => readFileSync(new URL(`../../${src}`, import.meta.url)), src).not.toThrow(/ENOENT/);
        expect(ignore, src).not.toContain(src);
      }
    }
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.env']));
  });
});
