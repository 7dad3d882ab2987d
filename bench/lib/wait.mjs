/**
 * A counter that resolves `reached(n)` once it has been bumped n times, or rejects at a deadline naming
 * how far it got, so a stuck run fails loudly instead of hanging the benchmark.
 */
export function counter() {
  let count = 0;
  let goal = Number.POSITIVE_INFINITY;
  let resolveGoal;
  return {
    bump() {
      count++;
      if (count >= goal) resolveGoal?.();
    },
    get count() {
      return count;
    },
    reached(n, deadlineMs, what) {
      goal = n;
      if (count >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${what}: ${count} of ${n} after ${deadlineMs} ms`)),
          deadlineMs,
        );
        resolveGoal = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
