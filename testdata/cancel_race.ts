// A check shared by the KvPool and BullPool tests: `cancel` racing a live listener says true only
// for jobs that never run, and false only for jobs that do.
import assert from "node:assert/strict";

/** What the check needs of a job pool whose listener runs `mark(tag)`, adding tag to `ran`. */
export interface CancellablePool {
  enqueue(task: "mark", args: [string]): Promise<string>;
  cancel(id: string): Promise<boolean>;
  result(id: string): Promise<unknown>;
}

/** Enqueues 150 `mark` jobs, cancelling each at once or a few ms later, then checks every one. */
export async function assertCancelRace(jobs: CancellablePool, ran: Set<string>): Promise<void> {
  const outcomes: { tag: string; id: string; cancelled: boolean }[] = [];
  for (let i = 0; i < 150; i++) {
    const tag = `race-${i}`;
    const id = await jobs.enqueue("mark", [tag]);
    // Cancel at once, or a little later: the listener takes some jobs first, some not.
    if (i % 3 !== 0) await new Promise((resolve) => setTimeout(resolve, i % 4));
    outcomes.push({ tag, id, cancelled: await jobs.cancel(id) });
  }
  for (const { id, cancelled } of outcomes) if (!cancelled) await jobs.result(id);
  for (const { tag, cancelled } of outcomes) {
    assert.equal(ran.has(tag), !cancelled, `${tag}: cancelled ${cancelled}, ran ${ran.has(tag)}`);
  }
  assert.ok(outcomes.some((o) => o.cancelled) && outcomes.some((o) => !o.cancelled));
}
