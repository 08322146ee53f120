import { setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';

/** Nice value of background worker threads (0 = normal, 19 = lowest). */
export const BACKGROUND_NICE = 10;
/** Per thread: each worker thread loads its own copy of this module. */
let lowered = false;

/**
 * Puts the calling worker thread below the hub's loop, for good: on Linux a thread's nice value is
 * its own (setpriority on "this process" applies to the calling thread), so when the cores are busy
 * the scheduler runs the hub's loop (and Redis) first and this thread in what is left. Once per
 * thread; never raised back (that needs privileges). A no-op on the main thread and off Linux
 * (there it could apply to the whole process), and where the system refuses.
 * Used by the knowledge bot's reload thread and the analytics feed's thread.
 */
export function lowerThreadPriority(): void {
  if (lowered || isMainThread || process.platform !== 'linux') return;
  lowered = true;
  try {
    setPriority(BACKGROUND_NICE);
  } catch {
    // Not allowed here: the thread runs at the normal priority.
  }
}
