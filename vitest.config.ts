import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file builds its own app on its own database (a temp SQLite file, a PostgreSQL schema).
    fileParallelism: true,
    reporters: ['default'],
  },
});
