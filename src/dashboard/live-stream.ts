import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { type ChangeSet, type ChangeVia, type LiveChange, type LiveMode, mergeChanges } from '../live/changes.js';
import type { LiveListener, LiveSource } from '../live/live-feed.js';

export interface LiveStreamOptions {
  /** At most one `change` event per this period reaches the open dashboards. */
  pushMs: number;
  /** A comment line this often keeps proxies from closing a quiet stream, and re-checks the session. */
  heartbeatMs: number;
  /** Open streams at most (each holds a socket); more are refused with 503. */
  maxStreams: number;
}

interface Stream {
  res: ServerResponse;
  /** The session that opened the stream is still valid (not logged out, not expired). */
  authorized(): boolean;
}

/** A client that reads slower than this is behind by far more than a refresh; it is cut. */
const MAX_BUFFERED_BYTES = 64 * 1024;
/** How long a browser waits before reconnecting a stream that ended. */
const RECONNECT_MS = 3000;

/**
 * The dashboards' Server-Sent Events streams (`GET /live`). One subscription to the live feed
 * serves every open stream, taken with the first and dropped with the last. Changes are merged
 * and pushed at most once per `pushMs`: the first at once, the rest at the end of the period. Each
 * event says only which instances saw which kinds of change; the page then re-reads its parts.
 * Closing (evosync stopping) ends every stream, so the HTTP server's close never waits on one.
 */
export class LiveStreams {
  readonly #source: LiveSource;
  readonly #opts: LiveStreamOptions;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #streams = new Set<Stream>();
  readonly #listener: LiveListener = { change: (c) => this.#change(c), mode: (m) => this.#broadcast(modeEvent(m, this.#source.ledgerPollMs)) };
  #unsubscribe: (() => void) | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #pushTimer: NodeJS.Timeout | null = null;
  #pending: { via: Set<ChangeVia>; changes: ChangeSet } | null = null;
  #lastPushAt = 0;
  #closed = false;
  /** `change` events sent (to all streams at once, counted once). */
  pushes = 0;

  constructor(source: LiveSource, opts: LiveStreamOptions, headers: Readonly<Record<string, string>>) {
    this.#source = source;
    this.#opts = opts;
    this.#headers = headers;
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Takes the reply over and keeps it open; the caller has checked the session. */
  open(reply: FastifyReply, authorized: () => boolean): FastifyReply {
    if (this.#closed || this.#streams.size >= this.#opts.maxStreams) {
      return reply.code(503).headers(this.#headers).header('retry-after', '30').type('text/plain; charset=utf-8').send('too many live streams open');
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...this.#headers,
      'content-type': 'text/event-stream; charset=utf-8',
      // Not buffered by nginx and the like; one stream per connection, closed with it.
      'x-accel-buffering': 'no',
      connection: 'close',
    });
    const stream: Stream = { res, authorized };
    this.#streams.add(stream);
    res.on('close', () => this.#drop(stream));
    this.#write(stream, `retry: ${RECONNECT_MS}\n\n${modeEvent(this.#source.mode, this.#source.ledgerPollMs)}`);
    if (!this.#unsubscribe) this.#unsubscribe = this.#source.subscribe(this.#listener);
    if (!this.#heartbeat) {
      this.#heartbeat = setInterval(() => this.#beat(), this.#opts.heartbeatMs);
      this.#heartbeat.unref();
    }
    return reply;
  }

  /** Ends every stream and refuses new ones (the HTTP server is closing). */
  closeAll(): void {
    this.#closed = true;
    for (const s of [...this.#streams]) s.res.end();
    this.#streams.clear();
    this.#idle();
  }

  #change(c: LiveChange): void {
    this.#pending ??= { via: new Set(), changes: {} };
    this.#pending.via.add(c.via);
    mergeChanges(this.#pending.changes, c.changes);
    if (this.#pushTimer) return;
    const wait = this.#lastPushAt + this.#opts.pushMs - Date.now();
    if (wait <= 0) return this.#push();
    this.#pushTimer = setTimeout(() => this.#push(), wait);
    this.#pushTimer.unref();
  }

  #push(): void {
    this.#pushTimer = null;
    const p = this.#pending;
    this.#pending = null;
    if (!p) return;
    this.#lastPushAt = Date.now();
    this.pushes += 1;
    this.#broadcast(`event: change\ndata: ${JSON.stringify({ via: [...p.via], changes: p.changes })}\n\n`);
  }

  #beat(): void {
    for (const s of [...this.#streams]) {
      // A logged-out or expired session loses its stream; the browser's reconnect then gets 401.
      if (!s.authorized()) s.res.end();
      else this.#write(s, ': heartbeat\n\n');
    }
  }

  #broadcast(text: string): void {
    for (const s of [...this.#streams]) this.#write(s, text);
  }

  #write(s: Stream, text: string): void {
    if (s.res.writableEnded || s.res.destroyed) return this.#drop(s);
    if (s.res.writableLength > MAX_BUFFERED_BYTES) {
      s.res.destroy();
      return this.#drop(s);
    }
    s.res.write(text);
  }

  #drop(s: Stream): void {
    if (!this.#streams.delete(s)) return;
    if (this.#streams.size === 0) this.#idle();
  }

  /** No stream left: nothing to push, nothing to keep alive, and the ledger poll may stop. */
  #idle(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    if (this.#pushTimer) clearTimeout(this.#pushTimer);
    this.#pushTimer = null;
    this.#pending = null;
  }
}

function modeEvent(mode: LiveMode, ledgerPollMs: number): string {
  return `event: mode\ndata: ${JSON.stringify({ mode, ledgerPollMs })}\n\n`;
}
