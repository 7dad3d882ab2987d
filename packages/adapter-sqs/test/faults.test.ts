import { describeFaultConformance } from '@queuekit/conformance';
import { endpoint, makeDriver } from './helpers.js';

// Through the suite's TCP proxy where the SQS under test has an endpoint (fauxqs, an emulator).
const target = endpoint ? new URL(endpoint) : undefined;
const proxied = (address: { readonly host: string; readonly port: number }) => {
  const url = new URL(endpoint);
  url.hostname = address.host;
  url.port = String(address.port);
  return url.toString().replace(/\/$/, '');
};

for (const fifo of [false, true]) {
  describeFaultConformance(fifo ? 'sqs (fifo)' : 'sqs', () => makeDriver({ fifo }), {
    lockMs: 2000,
    queuePrefix: fifo ? 'qkf-fifo' : 'qkf-sqs',
    ...(target
      ? {
          viaProxy: { target: { host: target.hostname, port: Number(target.port || 80) }, url: proxied },
          driverVia: (address: { readonly host: string; readonly port: number }) =>
            makeDriver({ endpoint: proxied(address), fifo }),
        }
      : {}),
  });
}
