import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import type { Failure } from './classify.js';

export type Fetched = { ok: true; bytes: Buffer; contentType: string | null } | { ok: false; failure: Failure };

export interface AttachmentPolicy {
  /** The Chatwoot the reply came from: its host is always allowed. */
  chatwootUrl: string;
  /** Further hosts (EVOSYNC_MEDIA_ALLOWED_HOSTS), lower-case; `*.x` matches any subdomain of x. */
  allowedHosts: readonly string[];
  /** Bytes past which the download is abandoned (a file WhatsApp cannot carry, or the operator's cap). */
  maxBytes: number;
  timeoutMs: number;
}

/** ActiveStorage answers one redirect (to disk or to S3/GCS); a CDN may add one. More is a loop. */
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Downloads an agent reply's file from Chatwoot. The URL comes from a webhook body, so evosync
 * must not become a way to fetch anything else: the URL and every redirect it takes must be on
 * Chatwoot's host or a host the operator listed (where ActiveStorage keeps files), over http(s),
 * and no hop may connect to a link-local or cloud metadata address, whatever its name resolves to.
 * Redirects are followed by hand, each one checked, and the presigned target is resolved afresh at
 * every attempt rather than cached (S3's expire within minutes).
 */
export async function fetchAttachment(url: string, policy: AttachmentPolicy, signal?: AbortSignal): Promise<Fetched> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return refused(`attachment URL is not a URL: ${url.slice(0, 200)}`);
  }
  const allowed = allowedHostsOf(policy);
  // One connection pool per download: its look-up refuses forbidden addresses, and it is closed
  // with the download (agent replies with files are rare; nothing is worth keeping open).
  const agent = new Agent({ connect: { lookup: guardedLookup } });
  try {
    for (let hop = 0; ; hop++) {
      const why = refusedTarget(target, allowed);
      if (why) return refused(hop === 0 ? why : `redirected to ${why}`);
      const res = await request(target, { method: 'GET', dispatcher: agent, headersTimeout: policy.timeoutMs, bodyTimeout: policy.timeoutMs, signal });
      if (REDIRECTS.has(res.statusCode)) {
        await res.body.dump().catch(() => undefined);
        const location = res.headers['location'];
        const next = typeof location === 'string' ? parseUrl(location, target) : null;
        if (!next) return refused(`attachment download answered HTTP ${res.statusCode} without a usable Location`);
        if (hop + 1 > MAX_REDIRECTS) return refused(`attachment download redirected more than ${MAX_REDIRECTS} times`);
        target = next;
        continue;
      }
      if (res.statusCode >= 400) {
        await res.body.dump().catch(() => undefined);
        const kind = res.statusCode >= 500 || res.statusCode === 429 ? 'server' : 'rejected';
        return { ok: false, failure: { kind, status: res.statusCode, message: `attachment download answered HTTP ${res.statusCode}` } };
      }
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > policy.maxBytes) {
        // Destroying a body makes undici emit an AbortError; nobody else listens for it.
        res.body.on('error', () => undefined).destroy();
        return tooLarge(declared, policy.maxBytes, res.statusCode);
      }
      // Read with a running count: a body without Content-Length (chunked) is stopped at the
      // limit instead of being held in memory whole first.
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        total += b.length;
        // Leaving the loop ends the iteration, which destroys the body.
        if (total > policy.maxBytes) return tooLarge(total, policy.maxBytes, res.statusCode);
        chunks.push(b);
      }
      const ct = res.headers['content-type'];
      return { ok: true, bytes: Buffer.concat(chunks, total), contentType: (Array.isArray(ct) ? ct[0] : ct) ?? null };
    }
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === FORBIDDEN_ADDRESS) return refused(e.message ?? 'forbidden address');
    // A failed download sent nothing to WhatsApp: always safe to try again.
    return { ok: false, failure: { kind: 'unreachable', status: null, message: `attachment download failed: ${e.code ?? ''} ${e.message ?? String(error)}`.trim() } };
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

/** Host names a download may touch: Chatwoot's own, then the listed ones. */
function allowedHostsOf(policy: AttachmentPolicy): string[] {
  let own: string[] = [];
  try {
    own = [new URL(policy.chatwootUrl).hostname.toLowerCase()];
  } catch {
    // No usable Chatwoot URL: only the listed hosts.
  }
  return [...own, ...policy.allowedHosts.map((h) => h.toLowerCase())];
}

/** Why this URL may not be fetched, or null when it may. */
export function refusedTarget(url: URL, allowed: readonly string[]): string | null {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${url.protocol} URL (only http and https are fetched); not fetched`;
  if (url.username || url.password) return 'a URL with credentials; not fetched';
  const host = hostOf(url);
  if (!hostAllowed(host, allowed)) return `${host}, which is neither CHATWOOT_URL's host nor in EVOSYNC_MEDIA_ALLOWED_HOSTS; not fetched`;
  if (isIP(host) && forbiddenAddress(host)) return `${host}, a link-local or metadata address; not fetched`;
  return null;
}

export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const bare = (x: string) => x.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  const h = bare(host);
  return allowed.map(bare).some((a) => (a.startsWith('*.') ? h.endsWith(a.slice(1)) && h.length > a.length - 1 : h === a));
}

/** The host name without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/**
 * Addresses no download may reach, however the host was named: "this network", link-local (where
 * AWS, GCP and Azure serve instance credentials at 169.254.169.254), Alibaba's metadata address,
 * multicast and reserved ranges, and the IPv6 equivalents (AWS's fd00:ec2::254 included).
 * Loopback and private ranges stay reachable: Chatwoot and its storage often live there, and the
 * host allow-list already decides which names may be used.
 */
export function forbiddenAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) {
    const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
    if (a === 0 || a >= 224) return true;
    if (a === 169 && b === 254) return true;
    return a === 100 && b === 100 && c === 100 && d === 200;
  }
  if (v === 6) {
    const x = address.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(x)?.[1];
    if (mapped) return forbiddenAddress(mapped);
    if (x === '::' || x === '::0') return true;
    if (/^fe[89ab][0-9a-f]:/.test(x)) return true; // fe80::/10
    if (x.startsWith('ff')) return true; // multicast
    return x === 'fd00:ec2::254';
  }
  return false;
}

const FORBIDDEN_ADDRESS = 'EVOSYNC_FORBIDDEN_ADDRESS';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup, refusing a name that resolves to a forbidden address (so DNS cannot smuggle one in). */
function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => forbiddenAddress(a.address));
    if (bad || addresses.length === 0) {
      const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${bad ? `${bad.address}, a link-local or metadata address` : 'no address'}; not fetched`);
      e.code = FORBIDDEN_ADDRESS;
      return callback(e, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0] as LookupAddress;
    return callback(null, first.address, first.family);
  });
}

function parseUrl(location: string, base: URL): URL | null {
  try {
    return new URL(location, base);
  } catch {
    return null;
  }
}

function refused(message: string): Fetched {
  return { ok: false, failure: { kind: 'rejected', status: null, message } };
}

function tooLarge(bytes: number, max: number, status: number): Fetched {
  return { ok: false, failure: { kind: 'rejected', status, message: `attachment is ${bytes} bytes or more, over the limit of ${max} bytes` } };
}
