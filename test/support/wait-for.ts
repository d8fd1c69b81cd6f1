/**
 * Polls `check` until it returns something truthy, or fails after `timeout` ms. The default is
 * long: a wait guards against "never happens", and on a loaded machine (CI runs four test files
 * at once, and creating a slot waits for every transaction open on the server) "soon" can take
 * seconds. Only a failing test ever waits it out.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeout = 60_000, interval = 10, what = "condition" }: { timeout?: number; interval?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
