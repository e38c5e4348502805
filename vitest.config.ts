// Three projects: `unit` needs no services; `integration` talks to the local stack, so it runs
// one file at a time with long timeouts (services share ports, topics and databases); `faults`
// (the fault-injection suite) crashes the stack's services, so no other file may run beside it.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The fault suite's reporter writes test/faults/REPORT.md when fault cases ran.
    reporters: ['default', './test/faults/report-reporter.ts'],
    // One test file at a time across all projects: the integration and fault files share one
    // stack, and a fault file crashes its services (groupOrder alone did not keep them apart).
    maxWorkers: 1,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/stack-global-setup.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          sequence: { concurrent: false, groupOrder: 0 },
        },
      },
      {
        // Crashes and restarts the stack's services: runs alone, after everything else.
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/support/stack-global-setup.ts'],
          environment: 'node',
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          sequence: { concurrent: false, groupOrder: 1 },
        },
      },
    ],
  },
});
