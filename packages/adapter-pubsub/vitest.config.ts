import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 90_000,
    // Files share one emulator; run them one after another (cases inside a file may overlap in time).
    fileParallelism: false,
  },
});
