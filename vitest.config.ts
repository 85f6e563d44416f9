import { defineConfig } from 'vitest/config';

// Three levels: unit (pure logic), integration (real Postgres + Redis), e2e (real Asterisk + SIPp).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          // Each file gets its worker's world (PBX_E2E_WORKERS worlds, see test/e2e/pick-world.ts).
          setupFiles: ['test/e2e/pick-world.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          sequence: { concurrent: false },
        },
      },
      {
        // Load: the short soak and the faults under a steady call load (issue #22), one file at a
        // time in one world of its own after e2e, so no other test's calls share the 2 cores.
        test: {
          name: 'load',
          include: ['test/load/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          setupFiles: ['test/e2e/pick-world.ts'],
          testTimeout: 600_000,
          hookTimeout: 180_000,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
