import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'runtime/**/*.test.ts', 'agents/**/*.test.ts', 'hal/**/*.test.ts', 'firmware-bridge/**/*.test.ts', 'fleet-sim/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Compiles the device code once, so tests start Murmur's CLIs built (test/support/built-cli.global.ts).
    globalSetup: ['test/support/built-cli.global.ts'],
    pool: 'forks',
    // Most files wait on real processes, brokers and ptys rather than the CPU: three at a time on two
    // cores kept them 1.7 cores busy (vitest 626 s, against 768 s and 1.3 cores at two; clean clones of
    // b466580 on the 2-vCPU development VM, 2026-12-06), and a file's concurrent cases up to ten at once
    // (the executor files run more than vitest's default five side by side, each waiting on its own FC).
    maxWorkers: 3,
    maxConcurrency: 10,
    reporters: ['default'],
  },
});
