import type { Job, Worker } from 'bullmq';

type Backend = Worker['backend'];
type Args = (string | number | boolean | Buffer)[];

/** The protected part of BullMQ's Redis backend that builds the arguments of its `moveToFinished` script. */
interface FinishedArgsBuilder {
  moveToFinishedArgs(
    job: Job,
    value: unknown,
    property: 'returnvalue',
    keep: Job['opts']['removeOnComplete'],
    target: 'completed',
    token: string,
    timestamp: number,
    fetchNext: boolean,
    fieldsToUpdate?: Record<string, unknown>,
  ): Args;
}

/**
 * Complete a job like `Job.moveToCompleted` (BullMQ's `moveToFinished` script: lock-checked, with
 * `fetchNext`), and set `fields` on the job hash in the same script. BullMQ's public completion takes
 * no fields (its failure does); the script does, so the driver's bookkeeping costs no second round trip.
 * Resolves with the next job's raw data when `fetchNext` locked one.
 */
export async function completeJob(
  backend: Backend,
  job: Job,
  result: unknown,
  token: string,
  fetchNext: boolean,
  fields: Record<string, unknown> | undefined,
): Promise<unknown> {
  const builder = backend as unknown as FinishedArgsBuilder;
  const args = builder.moveToFinishedArgs(
    job,
    JSON.stringify(result),
    'returnvalue',
    job.opts.removeOnComplete,
    'completed',
    token,
    Date.now(),
    fetchNext,
    fields,
  );
  return backend.moveToFinished(String(job.id), args);
}
