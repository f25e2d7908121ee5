/**
 * Seedable pseudo-random source for the simulators, so that a fault schedule or a generated
 * conversation can be replayed exactly from its seed (mulberry32: tiny, fast, good enough for
 * test traffic; not for anything secret).
 */
export interface Random {
  /** Uniform float in [0, 1). */
  next(): number;
  /** True with the given probability (0..1). */
  chance(probability: number): boolean;
  /** Uniform integer in [min, max] inclusive. */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p) => p > 0 && next() < p,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
  };
}
