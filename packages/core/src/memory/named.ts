import { MemoryBroker } from './broker.js';

const named = new Map<string, MemoryBroker>();

/** The process-wide broker for `memory://NAME` (default name `default`). */
export function namedBroker(name: string): MemoryBroker {
  let broker = named.get(name);
  if (!broker) {
    broker = new MemoryBroker();
    named.set(name, broker);
  }
  return broker;
}
