import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Run `rabbitmqctl` (the local broker's management CLI); rejects with its stderr on failure. */
export async function rabbitmqctl(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`rabbitmqctl ${args[0]} failed: ${stderr || String(error)}`);
  }
}
