import { ConfigError } from '@queuekit/core';

/** The four Pub/Sub resources behind one queue name (full resource paths). */
export interface QueueResources {
  /** `projects/P/topics/T`: where the queue's messages are published. */
  readonly topic: string;
  /** `projects/P/subscriptions/S`: the queue's consumers pull from it. */
  readonly subscription: string;
  /**
   * Messages with an ordering key go through this sibling topic (`T.ordered`), whose subscription
   * (`S.ordered`) has message ordering enabled; see the README for why they are kept apart.
   */
  readonly orderedTopic: string;
  readonly orderedSubscription: string;
  /** The dead-letter topic (`T.dlq`): the native policy and `deadLetter()` publish here. */
  readonly deadLetterTopic: string;
  /** A subscription on the dead-letter topic (`S.dlq`): list, redrive and purge read it. */
  readonly deadLetterSubscription: string;
}

const ALLOWED = /[A-Za-z0-9\-_.~+%]/;
const VALID_ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

/** Percent-encode the characters a Pub/Sub resource id does not allow. */
export function encodeId(value: string): string {
  let out = '';
  for (const char of value) {
    if (ALLOWED.test(char)) out += char;
    else for (const byte of Buffer.from(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function expand(template: string, placeholder: string, value: string): string {
  return template.includes(placeholder) ? template.split(placeholder).join(value) : `${template}-${value}`;
}

function checkId(kind: string, id: string, queue: string): string {
  if (!VALID_ID.test(id) || id.toLowerCase().startsWith('goog')) {
    throw new ConfigError(
      'queue',
      `queue \`${queue}\` maps to the ${kind} id \`${id}\`, which Pub/Sub refuses (3-255 characters, starting with a letter, not with "goog")`,
    );
  }
  return id;
}

/** Resolve the resource paths of `queue` from the topic and subscription templates. */
export function queueResources(
  projectId: string,
  topicTemplate: string,
  subscriptionTemplate: string,
  queue: string,
): QueueResources {
  const queueId = encodeId(queue);
  const topicId = checkId('topic', expand(topicTemplate, '{queue}', queueId), queue);
  const subscriptionId = checkId(
    'subscription',
    subscriptionTemplate.includes('{topic}')
      ? subscriptionTemplate.split('{topic}').join(topicId).split('{queue}').join(queueId)
      : expand(subscriptionTemplate, '{queue}', queueId),
    queue,
  );
  const project = `projects/${projectId}`;
  return {
    topic: `${project}/topics/${topicId}`,
    subscription: `${project}/subscriptions/${subscriptionId}`,
    orderedTopic: `${project}/topics/${checkId('topic', `${topicId}.ordered`, queue)}`,
    orderedSubscription: `${project}/subscriptions/${checkId('subscription', `${subscriptionId}.ordered`, queue)}`,
    deadLetterTopic: `${project}/topics/${checkId('topic', `${topicId}.dlq`, queue)}`,
    deadLetterSubscription: `${project}/subscriptions/${checkId('subscription', `${subscriptionId}.dlq`, queue)}`,
  };
}
