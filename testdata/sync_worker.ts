// A worker for sync_test.ts: contends for a Lock or Semaphore, or waits on an Event.
import { Event, Lock, Semaphore } from "../sync.ts";

export type SyncJob =
  | { op: "increment"; lock: Lock["handle"]; counter: SharedArrayBuffer; times: number }
  | { op: "holdPermit"; semaphore: Semaphore["handle"]; inside: SharedArrayBuffer; times: number }
  | { op: "waitEvent"; event: Event["handle"]; timeout?: number };

const scope = self as unknown as {
  onmessage: (event: MessageEvent<SyncJob>) => void;
  postMessage: (message: unknown) => void;
};

scope.onmessage = ({ data: job }) => {
  if (job.op === "increment") {
    const lock = Lock.from(job.lock);
    const counter = new Int32Array(job.counter);
    for (let i = 0; i < job.times; i++) {
      using _held = lock.hold();
      // A deliberately non-atomic read-modify-write: only the lock keeps it exact.
      const value = counter[0]!;
      counter[0] = value + 1;
    }
    scope.postMessage({ done: true });
  } else if (job.op === "holdPermit") {
    const semaphore = Semaphore.from(job.semaphore);
    const inside = new Int32Array(job.inside);
    let most = 0;
    for (let i = 0; i < job.times; i++) {
      using _permit = semaphore.hold();
      most = Math.max(most, Atomics.add(inside, 0, 1) + 1);
      Atomics.sub(inside, 0, 1);
    }
    scope.postMessage({ most });
  } else {
    const event = Event.from(job.event);
    scope.postMessage({ waiting: true });
    scope.postMessage({ result: event.wait(job.timeout) });
  }
};
