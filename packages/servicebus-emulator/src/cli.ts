#!/usr/bin/env node
/**
 * Run the test server: `servicebus-emulator [--port 5672] [--config Config.json] [--control-port 5300]`.
 * Prints the connection string; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startControlServer } from './control.js';
import { startEmulator } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5672' },
    config: { type: 'string' },
    'control-port': { type: 'string' },
    'lock-ms': { type: 'string' },
  },
});
const emulator = await startEmulator({
  port: Number(values.port),
  ...(values.config ? { configFile: values.config } : {}),
  ...(values['lock-ms'] ? { defaultQueueProperties: { lockDurationMs: Number(values['lock-ms']) } } : {}),
});
const control = values['control-port']
  ? await startControlServer(emulator, Number(values['control-port']))
  : undefined;
console.log(emulator.connectionString);
if (control) console.log(`control: http://127.0.0.1:${control.port}/queues/NAME (PUT, DELETE, GET)`);
const stop = async () => {
  await control?.close();
  await emulator.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
