// fandango's ThreadedObject: a task run every period in a background worker, compensating for its
// own run time, with diagnostics read from shared memory.
// Run: npx --yes deno@2.9.6 run examples/threaded_object.ts
import { Periodic } from "../mod.ts";

const fifthRun = Promise.withResolvers<void>();
let runs = 0;
const job = new Periodic(() => {
  const busyUntil = performance.now() + 20; // a task taking 20 ms of its 100 ms period
  while (performance.now() < busyUntil) { /* work */ }
  return new Date().toISOString();
}, {
  period: 100,
  start: true,
  onResult: (at) => {
    console.log("ran at", at);
    if (++runs === 5) fifthRun.resolve();
  },
});

await fifthRun.promise; // about half a second
job.stop(); // pauses; the worker stays
const { count, errors, delay, accDelay, usage } = job.stats;
console.log({
  count,
  errors,
  delay: delay.toFixed(3),
  accDelay: accDelay.toFixed(3),
  usage: usage.toFixed(2),
});
await Periodic.killAll();
