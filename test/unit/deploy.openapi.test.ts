import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
}

const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as OpenApi;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/**
 * "METHOD /path/{param}" for every route of a Fastify app, read from printRoutes' tree. HEAD is
 * left out: Fastify adds it to every GET by itself.
 */
function fastifyRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = `${stack.join('')}${m[2]!}`;
    stack.push(m[2]!);
    for (const method of (m[3] ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
      if (method !== 'HEAD') out.push(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return out.sort();
}

function described(): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((k) => METHODS.includes(k)).map((k) => `${k.toUpperCase()} ${path}`)).sort();
}

let app: Evosync;
beforeAll(async () => {
  app = await createEvosync(
    loadConfig({ EVOSYNC_DATABASE_URL: tempSqliteUrl(), CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 't', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1', EVOSYNC_WEBHOOK_TOKEN: 'openapi-test-token-0123' }),
    { logger: createLogger('silent') },
  );
  await app.server.ready();
});
afterAll(async () => {
  await app?.stop();
});

describe('openapi.yaml', () => {
  it('reads the route tree the way Fastify prints it', () => {
    const tree = ['├── /a (POST)', '│   ├── /t/:token (POST)', '│   │   └── /:event (POST)', '│   └── /:event (POST)', '└── /m (GET, HEAD)'].join('\n');
    expect(fastifyRoutes(tree)).toEqual(['GET /m', 'POST /a', 'POST /a/t/{token}', 'POST /a/t/{token}/{event}', 'POST /a/{event}']);
  });

  it('describes every route the service registers, and no route it does not', () => {
    const registered = fastifyRoutes(app.server.printRoutes({ commonPrefix: false }));
    expect(registered.length).toBeGreaterThan(8);
    expect(described()).toEqual(registered);
  });

  it('is OpenAPI 3.1 whose every $ref resolves and whose path parameters are declared', () => {
    expect(doc.openapi).toBe('3.1.0');
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const target = ref.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
      expect(target, ref).toBeDefined();
    }
    const resolve = (p: unknown): { name?: string; in?: string } => {
      const ref = (p as { $ref?: string }).$ref;
      return ref ? (ref.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc) as { name?: string; in?: string }) : (p as { name?: string; in?: string });
    };
    for (const [path, item] of Object.entries(doc.paths)) {
      const wanted = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
        const op = item[method] as { parameters?: unknown[]; responses?: Record<string, unknown> };
        const declared = (op.parameters ?? []).map(resolve).filter((p) => p.in === 'path').map((p) => p.name).sort();
        expect(declared, `${method} ${path}`).toEqual(wanted);
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} responses`).toBeGreaterThan(0);
      }
    }
  });
});
