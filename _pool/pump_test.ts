import assert from "node:assert/strict";
import { ReplyPump } from "./pump.ts";
import { BELL_ASLEEP, BELL_NAPPING, BELL_SEQ, BELL_WAITING } from "./protocol.ts";
import { waitFor } from "../testdata/within.ts";

Deno.test("ReplyPump naps only while workers hold queued tasks", async (t) => {
  // A pump that sleeps and is rung soon after switches to naps (BELL_NAPPING: workers stop
  // ringing, the nap's end drains). With one task per worker, a nap would only hold its caller's
  // reply back, so the pump must sleep until rung; with tasks queued in workers it naps.
  for (const queued of [false, true]) {
    await t.step(
      queued ? "tasks queued in workers: naps" : "a task per worker: no nap",
      async () => {
        const states = new Set<number>();
        let inflight = 1;
        let waiting = 0; // replies the fake workers have put
        let sleeps = 0;
        const pump: ReplyPump = new ReplyPump({
          inflight: () => inflight,
          drainReplies: () => {
            // The pump's last check before it sleeps comes after it wrote BELL_WAITING: a worker
            // replies right after it, and rings a pump that sleeps until rung (a napping one
            // drains when its nap ends).
            const state = Atomics.load(pump.bell, BELL_WAITING);
            states.add(state);
            if (state !== 0 && inflight > 0) {
              sleeps++;
              queueMicrotask(() => {
                waiting++;
                if (
                  Atomics.compareExchange(pump.bell, BELL_WAITING, BELL_ASLEEP, 0) === BELL_ASLEEP
                ) {
                  Atomics.add(pump.bell, BELL_SEQ, 1);
                  Atomics.notify(pump.bell, BELL_SEQ);
                }
              });
            }
            const any = waiting > 0;
            waiting = 0;
            return any;
          },
          hasReplies: () => waiting > 0,
          worthPolling: () => false,
          queuedInWorkers: () => queued,
        });
        pump.start();
        await waitFor(() => sleeps >= 30);
        inflight = 0;
        pump.wake();
        await waitFor(() => !pump.running);
        assert.equal(states.has(BELL_NAPPING), queued, `sleep states seen: ${[...states]}`);
      },
    );
  }
});
