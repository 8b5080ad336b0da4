import { defineConfig } from 'vitest/config'
import { probePostgres } from './test/helpers/services.js'

// Two projects: every test on the embedded defaults (SQLite records), and the integration
// tests again with the records in PostgreSQL (each test server in a schema of its own).
// Without a PostgreSQL the second is skipped, saying why; with CI=true that is a failure.
export default defineConfig(async () => {
  const postgres = await probePostgres()
  const shared = {
    testTimeout: 30_000,
    hookTimeout: 30_000,
  }
  return {
    test: {
      // Integration tests start servers and child processes; two cores run two files at once.
      maxWorkers: 2,
      minWorkers: 1,
      projects: [
        { test: { ...shared, name: 'sqlite', include: ['test/**/*.test.ts'] } },
        ...(postgres.ok
          ? [
              {
                test: {
                  ...shared,
                  name: 'postgres',
                  include: ['test/integration/**/*.test.ts'],
                  // Crash durability of the embedded mode: SQLite's file and WAL (the
                  // distributed mode has its own chaos test).
                  exclude: ['test/integration/durability.test.ts'],
                  env: { FLUXHOST_TEST_STORE: 'postgres' },
                },
              },
            ]
          : []),
      ],
    },
  }
})
