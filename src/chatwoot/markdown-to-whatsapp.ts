/**
 * Chatwoot's dashboard writes Markdown, and for API inboxes it hands it over unconverted (reference
 * §10): WhatsApp has its own, smaller syntax. Converted here as Chatwoot's own WhatsApp renderer
 * does: **bold** → *bold*, *italic* or _italic_ → _italic_, ~~strike~~ → ~strike~, code kept as
 * WhatsApp monospace, headings bold, links as "text (url)", hard breaks as plain newlines.
 * Code is set aside first, so nothing inside it is touched.
 */
const HOLE = '\u0000';
/** Bold is parked under a character of its own: a kept piece followed by a "B" must never read as one. */
const BOLD = '\u0001';

export function markdownToWhatsApp(markdown: string): string {
  const kept: string[] = [];
  const keep = (s: string): string => `${HOLE}${kept.push(s) - 1}${HOLE}`;

  // The agent's own NULs and SOHs would be read as this function's placeholders (WhatsApp drops them).
  let text = markdown.replaceAll(HOLE, '').replaceAll(BOLD, '').replace(/\r\n?/g, '\n');
  // Fenced blocks: WhatsApp's ``` block, without the language tag.
  text = text.replace(/^```[^\n]*\n([\s\S]*?)\n?```[ \t]*$/gm, (_m, body: string) => keep(`\`\`\`${body}\`\`\``));
  // Inline code: WhatsApp shows `x` as inline code.
  text = text.replace(/`([^`\n]+)`/g, (_m, body: string) => keep(`\`${body}\``));
  // Markdown hard breaks: a backslash (or two trailing spaces) before a newline.
  text = text.replace(/\\\n/g, '\n').replace(/ {2,}\n/g, '\n');
  // Markdown escapes: the character itself, set aside so no later pass reads it as markup.
  text = text.replace(/\\([\\`*_{}[\]()#+\-.!~>|])/g, (_m, c: string) => keep(c));
  // Links and images: WhatsApp has no link markup; keep the URL visible and tappable.
  text = text.replace(/!?\[([^\]\n]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g, (_m, label: string, url: string) => {
    const l = label.trim();
    return keep(!l || l === url || `mailto:${l}` === url ? url : `${l} (${url})`);
  });
  text = text.replace(/<((?:https?|mailto):[^>\s]+)>/g, (_m, url: string) => keep(url));

  // Headings → bold line.
  text = text.replace(/^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$/gm, (_m, h: string) => `${BOLD}${h}${BOLD}`);
  // Bold first (** and __), parked as markers so the italic pass cannot see their asterisks.
  text = text.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, (_m, b: string) => `${BOLD}${b}${BOLD}`);
  text = text.replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, (_m, pre: string, b: string) => `${pre}${BOLD}${b}${BOLD}`);
  // Italic: *x* → _x_ (a lone * of a list bullet has a space after it, so it never matches).
  text = text.replace(/(^|[^*\w])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![*\w])/g, (_m, pre: string, i: string) => `${pre}_${i}_`);
  // Strike: ~~x~~ → ~x~.
  text = text.replace(/~~(?=\S)([\s\S]*?\S)~~/g, (_m, s: string) => `~${s}~`);
  // List bullets written with * or + read as the start of bold in WhatsApp: use "- ".
  text = text.replace(/^([ \t]*)[*+][ \t]+/gm, (_m, indent: string) => `${indent}- `);
  // Block quotes stay "> " (WhatsApp renders them); horizontal rules become a plain line.
  text = text.replace(/^[ \t]{0,3}(?:-[ \t]*){3,}$|^[ \t]{0,3}(?:_[ \t]*){3,}$/gm, '———');

  text = text.replaceAll(BOLD, '*');
  text = text.replace(new RegExp(`${HOLE}(\\d+)${HOLE}`, 'g'), (_m, n: string) => kept[Number(n)] ?? '');
  return text;
}
