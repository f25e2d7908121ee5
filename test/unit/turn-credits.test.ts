import { describe, expect, it } from 'vitest';
import { TurnCredits } from '../../src/chatwoot/turn-credits.js';

describe('turn credits', () => {
  it('hands each taken turn to one request, per rule, and never more', () => {
    const c = new TurnCredits(1000);
    c.deposit('ip', 100);
    c.deposit('ip', 120);
    expect(c.take('conv', 130)).toBe(false);
    expect(c.take('ip', 130)).toBe(true);
    expect(c.take('ip', 130)).toBe(true);
    expect(c.take('ip', 130)).toBe(false);
  });

  it('drops turns kept past their freshness: the request then waits for a new one', () => {
    const c = new TurnCredits(1000);
    c.deposit('ip', 0);
    c.deposit('ip', 900);
    expect(c.take('ip', 1500)).toBe(true); // the stale one is dropped, the fresh one used
    expect(c.take('ip', 1500)).toBe(false);
    c.deposit('ip', 0);
    expect(c.take('ip', 1001)).toBe(false);
  });
});
