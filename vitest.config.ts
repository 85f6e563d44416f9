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
    ],
  },
});
