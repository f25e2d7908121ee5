import { readFileSync, writeFileSync } from 'node:fs';

const START = '<!-- bench:start (written by npm run bench; do not edit by hand) -->';
const END = '<!-- bench:end -->';

/**
 * The README's benchmark tables are the report of the last full `npm run bench`, spliced between
 * two markers, so the figures a reader sees are the ones the command printed, never retyped.
 */
export function spliceIntoReadme(path: string, report: string, at: Date): boolean {
  const readme = readFileSync(path, 'utf8');
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) return false;
  const body = `${START}\n\nFrom \`npm run bench\` on ${at.toISOString().slice(0, 10)}:\n\n${report.trim()}\n\n`;
  writeFileSync(path, readme.slice(0, from) + body + readme.slice(to));
  return true;
}
