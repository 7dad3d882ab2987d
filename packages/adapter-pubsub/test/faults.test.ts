import { describeFaultConformance } from '@queuekit/conformance';
import { makeDriver, pubsubEnv } from './helpers.js';

// Through the suite's TCP proxy in front of the emulator: the client's apiEndpoint is the proxy.
const { emulatorHost } = pubsubEnv();
const [host, port] = emulatorHost.split(':');

describeFaultConformance('pubsub', () => makeDriver(), {
  lockMs: 2000,
  queuePrefix: 'qkf',
  ...(emulatorHost
    ? {
        viaProxy: {
          target: { host: host ?? '127.0.0.1', port: Number(port) },
          url: (address: { readonly host: string; readonly port: number }) =>
            `pubsub://${pubsubEnv().projectId}?apiEndpoint=${address.host}:${address.port}`,
        },
        driverVia: (address: { readonly host: string; readonly port: number }) =>
          makeDriver({ clientConfig: { apiEndpoint: `${address.host}:${address.port}` } }),
      }
    : {}),
});
