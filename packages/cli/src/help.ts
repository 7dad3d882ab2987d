import type { Command } from './commands/command.js';
import { COMMANDS } from './commands/index.js';

const GLOBAL_HELP = `Options (every command):
  --url URL            queue URL (default: $QUEUE_URL): memory://, redis://, rediss://, amqp://, amqps://,
                       sqs://, pubsub://, servicebus:// or a Service Bus connection string
  --json               machine-readable output: one JSON document on stdout (watch: one per refresh)
  --timeout MS         longest wait for the broker to answer a call (default 10000)
  --store URL          store shared with the workers, for schedules (default: $QUEUE_STORE_URL; redis://)
  --store-prefix P     key prefix of that store (default: the store's own, qk:store:)
  -h, --help           help (also after a command)
  -V, --version        version

Credentials in URLs are masked (***) in everything queuekit prints.
Exit codes: 0 done, 1 broker or operation failed, 2 bad command line / URL / missing adapter, 130 interrupted.`;

/** Help for every command. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `Usage: queuekit <command> [arguments] [options]

Commands:
${lines.join('\n')}

${GLOBAL_HELP}

Run \`queuekit <command> --help\` for a command's arguments.`;
}

/** Help for one command. */
export function commandHelp(command: Command): string {
  return `Usage: queuekit ${command.name} ${command.usage}

${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.

${GLOBAL_HELP}`;
}
