import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'runtime/**/*.test.ts', 'agents/**/*.test.ts', 'hal/**/*.test.ts', 'firmware-bridge/**/*.test.ts', 'fleet-sim/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Compiles the device code once, so tests start Murmur's CLIs built (test/support/built-cli.global.ts).
    globalSetup: ['test/support/built-cli.global.ts'],
    pool: 'forks',
    // Most files wait on real processes, brokers and ptys rather than the CPU: two at a time on two cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
