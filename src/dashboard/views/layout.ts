import { type Html, html, trusted } from '../html.js';

/** Small, fixed, inline: no build step, no external request, allowed by the page's CSP. */
const CSS = `
*{box-sizing:border-box}[hidden]{display:none!important}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2430;background:#f4f6f9}
header{display:flex;gap:16px;align-items:center;padding:10px 20px;background:#14324a;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}header .sp{flex:1}
header form{margin:0}header input[type=search]{width:280px;padding:5px 8px;border:0;border-radius:4px}
main{max-width:1200px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:20px;margin:8px 0 12px}h2{font-size:16px;margin:24px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:14px}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:12px 14px}
.card h3{margin:0 0 6px;font-size:15px;display:flex;gap:8px;align-items:center}
.stats{display:flex;gap:18px;margin:6px 0 8px;flex-wrap:wrap}.stats div{min-width:64px}.stats b{display:block;font-size:18px}
.muted{color:#66727f}.small{font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#e3e8ee;color:#3b4652}
.ok{background:#dff3e4;color:#17663a}.bad{background:#fde2e1;color:#a11d16}.warn{background:#fff1d6;color:#8a5a00}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde3ea;border-radius:8px;overflow:hidden}
th,td{padding:6px 8px;border-bottom:1px solid #edf0f3;text-align:left;vertical-align:top}th{background:#f0f3f6;font-weight:600;font-size:12px}
td.err{max-width:380px;word-break:break-word;font-family:ui-monospace,monospace;font-size:12px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
button{font:inherit;padding:3px 10px;border-radius:4px;border:1px solid #9aa7b4;background:#fff;cursor:pointer}
button.primary{background:#1d6fb8;border-color:#1d6fb8;color:#fff}button.danger{border-color:#c0392b;color:#a11d16}
td form{display:inline;margin:0 4px 0 0}
.notice{padding:8px 12px;border-radius:6px;background:#e6f1fb;border:1px solid #b9d6f2;margin-bottom:12px}
pre{background:#0f1b26;color:#e6edf3;padding:10px;border-radius:6px;overflow:auto;max-height:420px;font-size:12px}
.login{max-width:340px;margin:80px auto;background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:20px}
.login label{display:block;margin:10px 0 4px}.login input{width:100%;padding:7px;border:1px solid #b8c2cc;border-radius:4px}
.login button{margin-top:14px;width:100%;padding:7px}.error{color:#a11d16;margin-top:8px}
svg text{font:10px system-ui,sans-serif;fill:#66727f}
`;

export interface PageContext {
  user: string;
  csrf: string;
  notice?: string | null;
  search?: string;
}

/**
 * A whole page. The empty icon spares the browser a request for /favicon.ico (a 404 on every page).
 * `script` names evosync's own script file (never inline code); only a page whose
 * CSP allows it (the overview, see headers.ts) passes one.
 */
export function page(title: string, body: Html, ctx: PageContext | null, script?: string): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · evosync</title><link rel="icon" href="data:,"><style>${trusted(CSS)}</style>${script ? html`<script src="${script}" defer></script>` : ''}</head>
<body>${ctx ? header(ctx) : ''}<main>${ctx?.notice ? html`<div class="notice" role="status">${ctx.notice}</div>` : ''}${body}</main></body></html>`.value;
}

function header(ctx: PageContext): Html {
  return html`<header><a href="/">evosync</a>
<form method="get" action="/messages"><input type="search" name="q" placeholder="WhatsApp id, Chatwoot id or chat" value="${ctx.search ?? ''}" aria-label="Search messages"></form>
<span class="sp"></span><span class="small">${ctx.user}</span>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${ctx.csrf}"><button type="submit">Log out</button></form></header>`;
}
