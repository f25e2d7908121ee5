import fc from 'fast-check';

/**
 * Property tests run with a fixed seed, so a run of `npm test` is reproducible and CI never fails on
 * a value no one can see again. `FC_SEED=<n>` tries another seed; `FC_SEED=random` explores (a
 * failure prints its seed and counterexample; add that counterexample as a plain test).
 */
const seed = process.env['FC_SEED'] ?? '20261126';
if (seed !== 'random') fc.configureGlobal({ seed: Number(seed) });
