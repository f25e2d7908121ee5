import { createHash } from 'node:crypto';

/**
 * The dashboard's only script, served by evosync itself at /dashboard.js (the overview's CSP
 * allows `script-src 'self'` and nothing inline). Progressive enhancement: the overview is complete
 * without it; with it, the parts marked `data-live` are re-read from /live/overview whenever the
 * live stream (/live) reports a change, and swapped in place, without a reload.
 *
 * Kept to what every current browser runs without a build step. It never renders data itself: the
 * server renders the fragment with the same view functions as the page (escaped templates), and the
 * script only moves those elements in. A refresh waits for the previous one and, after it, at least
 * three times as long as it took (and 1 s), so a slow ledger is never asked faster than it answers.
 */
export const LIVE_SCRIPT = `// evosync dashboard: live updates of the overview (the page works the same without this script).
(function () {
  'use strict';
  var badge = document.getElementById('live-state');
  if (!badge || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var es = null;
  var busy = false;
  var again = false;
  var lastText = null;
  var nextAt = 0;
  var missed = false;
  var ended = false;
  var pollS = 5;

  function show(cls, text, title) {
    badge.hidden = false;
    badge.className = 'badge' + (cls ? ' ' + cls : '');
    badge.textContent = text;
    badge.title = title;
  }

  function showMode(mode) {
    if (mode === 'ledger') show('warn', 'live, slower', 'Redis is not in use: what other evosync processes do shows up within ' + pollS + ' s.');
    else show('ok', 'live', 'Updates as evosync works.');
  }

  function apply(text) {
    if (text === lastText) return;
    lastText = text;
    var doc = new DOMParser().parseFromString(text, 'text/html');
    var parts = doc.querySelectorAll('[data-live]');
    for (var i = 0; i < parts.length; i++) {
      var old = document.getElementById(parts[i].id);
      if (old) old.replaceWith(document.importNode(parts[i], true));
    }
  }

  function stopped(title) {
    ended = true;
    if (es) es.close();
    show('bad', 'offline', title);
  }

  function refresh() {
    if (ended) return;
    if (document.hidden) { missed = true; return; }
    if (busy) { again = true; return; }
    var wait = nextAt - Date.now();
    if (wait > 0) { busy = true; setTimeout(function () { busy = false; refresh(); }, wait); return; }
    busy = true;
    again = false;
    var started = Date.now();
    fetch('/live/overview', { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'text/html' } })
      .then(function (r) {
        if (r.status === 401) { stopped('Your session has ended: reload the page to log in again.'); return null; }
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (text) { if (text !== null) apply(text); })
      .catch(function () { missed = true; })
      .then(function () {
        var took = Date.now() - started;
        nextAt = Date.now() + Math.max(1000, 3 * took);
        busy = false;
        if (again) refresh();
      });
  }

  function connect() {
    es = new EventSource('/live');
    es.addEventListener('mode', function (e) {
      var m = JSON.parse(e.data);
      pollS = Math.round(m.ledgerPollMs / 1000);
      showMode(m.mode);
    });
    es.addEventListener('change', refresh);
    es.addEventListener('open', function () {
      // Changes made while the stream was down were never pushed: read the page once.
      if (missed) { missed = false; refresh(); }
    });
    es.addEventListener('error', function () {
      missed = true;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (evosync stopping, session gone): look again later instead of giving up.
        show('bad', 'offline', 'Live updates stopped; trying again shortly.');
        setTimeout(retry, 10000);
      } else {
        show('bad', 'offline', 'Reconnecting to evosync\\u2026');
      }
    });
  }

  function retry() {
    if (ended) return;
    fetch('/live/overview', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.status === 401) return stopped('Your session has ended: reload the page to log in again.');
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text().then(function (text) { apply(text); connect(); });
      })
      .catch(function () { setTimeout(retry, 10000); });
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && missed) { missed = false; refresh(); }
  });
  show('', 'connecting\\u2026', 'Opening the live update stream.');
  connect();
})();
`;

/** Names the script's version in its URL, so a page always loads the script of the evosync serving it. */
export const LIVE_SCRIPT_VERSION = createHash('sha256').update(LIVE_SCRIPT).digest('base64url').slice(0, 12);

export const LIVE_SCRIPT_PATH = '/dashboard.js';
