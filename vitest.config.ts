import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites share one PostgreSQL server and one RabbitMQ broker; files still run in
    // parallel, each in its own database.
    pool: 'forks',
    setupFiles: ['test/helpers/fast-check-seed.ts'],
  },
});
