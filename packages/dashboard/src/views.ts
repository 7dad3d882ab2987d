import type { DeadLetterRecord, JobStatus, PeekedJob, ScheduleInfo } from '@queuekit/core';
import type { AnyQueue } from './options.js';
import { iso, preview } from './serialize.js';

// What the API sends for each record: dates as ISO strings, payloads and results as capped JSON text.

const BROKERS: Readonly<Record<string, string>> = {
  bullmq: 'BullMQ',
  rabbitmq: 'RabbitMQ',
  sqs: 'SQS',
  pubsub: 'Pub/Sub',
  servicebus: 'Service Bus',
};

/** A driver's provider name as people write it (`RabbitMQ`, `Pub/Sub`), for sentences. */
export function brokerLabel(provider: string): string {
  return Object.hasOwn(BROKERS, provider) ? (BROKERS[provider] as string) : `The ${provider} broker`;
}

export function providerOf(queue: AnyQueue): string {
  return queue.toJSON().provider ?? 'unknown';
}

export function deadLetterView(record: DeadLetterRecord<unknown>) {
  return {
    id: record.id,
    name: record.name,
    reason: record.reason,
    error: record.error,
    attempts: record.attempts,
    deadLetteredAt: iso(record.deadLetteredAt),
    data: preview(record.data),
  };
}

export function peekedView(job: PeekedJob<unknown>) {
  return {
    id: job.id,
    name: job.name,
    priority: job.priority,
    attempt: job.attempt,
    enqueuedAt: iso(job.enqueuedAt),
    runAt: iso(job.runAt),
    data: preview(job.data),
  };
}

export function jobView(status: JobStatus<unknown>) {
  return {
    id: status.id,
    queue: status.queue,
    name: status.name,
    state: status.state,
    progress: status.progress,
    result: preview(status.result),
    error: status.error,
    reason: status.reason,
    attempts: status.attempts,
    maxAttempts: status.maxAttempts,
    createdAt: iso(status.createdAt),
    startedAt: iso(status.startedAt),
    finishedAt: iso(status.finishedAt),
    updatedAt: iso(status.updatedAt),
  };
}

export function scheduleView(queue: string, info: ScheduleInfo<unknown>) {
  return {
    queue,
    name: info.name,
    jobName: info.jobName ?? info.name,
    cron: info.cron,
    every: info.every,
    tz: info.tz,
    lastRunAt: iso(info.lastRunAt),
    nextRunAt: iso(info.nextRunAt),
    data: preview(info.data),
  };
}
