import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The files share one broker (and `rabbitmqctl`): run them one after the other.
    fileParallelism: false,
  },
});
