/** The job every contender carries: ~150 bytes of JSON with the send time for the latency run. */
export function payload(i, sentAt = 0) {
  return { i, t: sentAt, to: `user${i}@example.com`, subject: 'Your report is ready', note: 'x'.repeat(80) };
}
