import type { Command } from './command.js';
import { dlqListCommand, dlqPurgeCommand, dlqRedriveCommand } from './dlq.js';
import { peekCommand } from './peek.js';
import { schedulesCommand } from './schedules.js';
import { sendCommand } from './send.js';
import { statsCommand } from './stats.js';
import { watchCommand } from './watch.js';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  sendCommand,
  peekCommand,
  statsCommand,
  dlqListCommand,
  dlqRedriveCommand,
  dlqPurgeCommand,
  schedulesCommand,
  watchCommand,
];

export type { Command, CommandContext } from './command.js';
