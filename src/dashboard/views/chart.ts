import { escapeHtml, type Html, trusted } from '../html.js';
import { duration } from './format.js';

/** One minute of one instance, oldest first; a minute with no traffic is all zeros. */
export interface MinutePoint {
  minuteAt: number;
  received: number;
  delivered: number;
  lagMsMax: number;
  lagMsAvg: number;
}

const W = 600;
const H = 150;
const LEFT = 34;
const RIGHT = 46;
const TOP = 10;
const BOTTOM = 118;

/**
 * Server-rendered SVG: received and delivered per minute as bars (left axis), the worst
 * received → delivered lag of each minute as a line (right axis). Hovering a minute shows its
 * figures through SVG <title>, so the page needs no script.
 */
export function throughputChart(points: readonly MinutePoint[]): Html {
  const n = Math.max(points.length, 1);
  const slot = (W - LEFT - RIGHT) / n;
  const maxCount = niceCeil(Math.max(1, ...points.map((p) => Math.max(p.received, p.delivered))));
  const maxLag = Math.max(1, ...points.map((p) => p.lagMsMax));
  const y = (v: number) => BOTTOM - (v / maxCount) * (BOTTOM - TOP);
  const yLag = (v: number) => BOTTOM - (v / maxLag) * (BOTTOM - TOP);
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="messages per minute and delivery lag, last ${n} minutes" xmlns="http://www.w3.org/2000/svg">`);
  for (const frac of [0, 0.5, 1]) {
    const gy = y(maxCount * frac);
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${f(gy)}" y2="${f(gy)}" stroke="#e6eaee"/>`);
    parts.push(`<text x="${LEFT - 4}" y="${f(gy + 3)}" text-anchor="end">${Math.round(maxCount * frac)}</text>`);
  }
  points.forEach((p, i) => {
    const x = LEFT + i * slot;
    const bw = Math.max(1, slot * 0.42);
    const time = new Date(p.minuteAt).toISOString().slice(11, 16);
    const tip = `${time} UTC: received ${p.received}, delivered ${p.delivered}${p.delivered > 0 ? `, lag avg ${duration(p.lagMsAvg)}, max ${duration(p.lagMsMax)}` : ''}`;
    parts.push(`<g><title>${escapeHtml(tip)}</title><rect x="${f(x)}" y="${TOP}" width="${f(slot)}" height="${BOTTOM - TOP}" fill="transparent"/>`);
    if (p.received > 0) parts.push(`<rect x="${f(x + slot * 0.06)}" y="${f(y(p.received))}" width="${f(bw)}" height="${f(BOTTOM - y(p.received))}" fill="#9cc3e6"/>`);
    if (p.delivered > 0) parts.push(`<rect x="${f(x + slot * 0.06 + bw)}" y="${f(y(p.delivered))}" width="${f(bw)}" height="${f(BOTTOM - y(p.delivered))}" fill="#1d6fb8"/>`);
    parts.push('</g>');
  });
  const lagPts = points
    .map((p, i) => (p.delivered > 0 ? `${f(LEFT + (i + 0.5) * slot)},${f(yLag(p.lagMsMax))}` : null))
    .filter((s): s is string => s !== null);
  if (lagPts.length > 1) parts.push(`<polyline points="${lagPts.join(' ')}" fill="none" stroke="#e07b00" stroke-width="1.5"/>`);
  else if (lagPts.length === 1) parts.push(`<circle cx="${lagPts[0]?.split(',')[0]}" cy="${lagPts[0]?.split(',')[1]}" r="2.5" fill="#e07b00"/>`);
  parts.push(`<text x="${W - RIGHT + 4}" y="${TOP + 3}" fill="#e07b00">${escapeHtml(duration(maxLag))}</text>`);
  parts.push(`<text x="${W - RIGHT + 4}" y="${BOTTOM + 3}" fill="#e07b00">0</text>`);
  parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${BOTTOM}" y2="${BOTTOM}" stroke="#9aa7b4"/>`);
  parts.push(`<text x="${LEFT}" y="${BOTTOM + 13}">−${n} min</text><text x="${W - RIGHT}" y="${BOTTOM + 13}" text-anchor="end">now</text>`);
  const lx = LEFT + 60;
  parts.push(`<rect x="${lx}" y="${H - 12}" width="9" height="9" fill="#9cc3e6"/><text x="${lx + 12}" y="${H - 4}">received/min</text>`);
  parts.push(`<rect x="${lx + 100}" y="${H - 12}" width="9" height="9" fill="#1d6fb8"/><text x="${lx + 112}" y="${H - 4}">delivered/min</text>`);
  parts.push(`<line x1="${lx + 200}" x2="${lx + 212}" y1="${H - 7}" y2="${H - 7}" stroke="#e07b00" stroke-width="2"/><text x="${lx + 216}" y="${H - 4}">max lag (right axis)</text>`);
  parts.push('</svg>');
  // Only numbers computed above and escaped text reach this markup.
  return trusted(parts.join(''));
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
