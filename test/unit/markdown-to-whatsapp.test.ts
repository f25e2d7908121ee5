import { describe, expect, it } from 'vitest';
import { markdownToWhatsApp as wa } from '../../src/chatwoot/markdown-to-whatsapp.js';

describe('markdownToWhatsApp', () => {
  it('bold, italic and strike in WhatsApp syntax', () => {
    expect(wa('Olá! **Posso ajudar?**')).toBe('Olá! *Posso ajudar?*');
    expect(wa('*it* and _it_ and __bo__')).toBe('_it_ and _it_ and *bo*');
    expect(wa('~~gone~~')).toBe('~gone~');
    expect(wa('**bold with *italic* inside**')).toBe('*bold with _italic_ inside*');
  });

  it('leaves code alone and keeps it monospace', () => {
    expect(wa('run `a **b** c` now')).toBe('run `a **b** c` now');
    expect(wa('```js\nconst a = **b**;\n```')).toBe('```const a = **b**;```');
  });

  it('headings bold, bullets as dashes, links with their URL', () => {
    expect(wa('# Title\n* one\n* two\n+ three')).toBe('*Title*\n- one\n- two\n- three');
    expect(wa('see [docs](https://x.io) or <https://y.io>')).toBe('see docs (https://x.io) or https://y.io');
    expect(wa('[https://x.io](https://x.io)')).toBe('https://x.io');
  });

  it('hard breaks become newlines and escapes their character', () => {
    expect(wa('line\\\nbreak')).toBe('line\nbreak');
    expect(wa('\\*literal\\*')).toBe('*literal*');
  });

  it('does not invent formatting from arithmetic or identifiers', () => {
    expect(wa('a * b * c')).toBe('a * b * c');
    expect(wa('snake_case_name and 2*3*4')).toBe('snake_case_name and 2*3*4');
    expect(wa('plain text, nothing else')).toBe('plain text, nothing else');
  });
  it('never leaves a placeholder behind when an escaped character is followed by what looked like a bold marker', () => {
    // Found by the property test: "\\*" kept aside, then "B" right after it, once read as bold's end.
    expect(wa('\\*\u0000B')).toBe('*B');
    expect(wa('\\_\u0001x**y**')).toBe('_x*y*');
  });
});
