/** Injected time source: tests and the simulators can run on a fake clock. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
