import { describeFaultConformance } from '@queuekit/conformance';
import { ServiceBusDriver } from '../src/index.js';
import { connectionString, deleteQueue, lockMs, makeDriver, target } from './helpers.js';

// Through the suite's TCP proxy: the connection string's Endpoint names the proxy (test server only;
// a real namespace is reached over TLS on its own host name).
const endpoint = /Endpoint=sb:\/\/([^;/:]+):(\d+)/i.exec(connectionString);
const proxied = (address: { readonly host: string; readonly port: number }) =>
  connectionString.replace(/Endpoint=sb:\/\/[^;/]+/i, `Endpoint=sb://${address.host}:${address.port}`);

for (const prefetch of [false, true]) {
  describeFaultConformance(`servicebus${prefetch ? ' (prefetch)' : ''}`, () => makeDriver({ prefetch }), {
    lockMs,
    queuePrefix: prefetch ? 'qkf-sbp' : 'qkf-sb',
    cleanup: (name) => deleteQueue(name),
    ...(target === 'test-server' && endpoint
      ? {
          viaProxy: {
            target: { host: endpoint[1] ?? '127.0.0.1', port: Number(endpoint[2]) },
            url: proxied,
          },
          driverVia: (address: { readonly host: string; readonly port: number }) =>
            new ServiceBusDriver({
              connectionString: proxied(address),
              duplicateDetection: true,
              prefetch,
            }),
        }
      : {}),
  });
}
