/**
 * Clean-ups for a test file's process that is about to exit with a test still running (see
 * test/support/watchdog.ts): its after() hooks will never run, so what they would have
 * removed (its database, child processes) registers here as well.
 */
const cleanups = new Set<() => Promise<unknown> | unknown>();

/** Registers `cleanup`; the returned function unregisters it. */
export function onAbandon(cleanup: () => Promise<unknown> | unknown): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs every clean-up, the latest registered first, giving them `ms` in all. */
export async function abandon(ms: number): Promise<void> {
  const all = [...cleanups].reverse();
  cleanups.clear();
  const work = (async () => {
    for (const cleanup of all) await Promise.resolve(cleanup()).catch(() => {});
  })();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
