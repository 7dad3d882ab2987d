import { describeConformance } from '@queuekit/conformance';
import { makeDriver } from './helpers.js';

// SQS visibility timeouts are whole seconds: 2 s is the shortest lock that stays a lock under load.
describeConformance('sqs', () => makeDriver(), { lockMs: 2000, queuePrefix: 'qkc-sqs' });
