// The theta seed's first StoppableThread example: a target function, with the stop event created
// outside and passed in as its argument.
// Run: npx --yes deno@2.9.6 run examples/sleeper.ts
import { Event, StoppableThread, type ThreadContext } from "../mod.ts";

function sleeper(_thread: ThreadContext, stopEvent: Event): void {
  let t = 0;
  while (!stopEvent.wait(1000)) {
    t += 1;
    console.log(`INFO: Slept for between ${t} and ${t + 1} seconds`);
  }
}

const event = new Event();
const thread = new StoppableThread(sleeper, { args: [event], stopEvent: event });
thread.start();
await new Promise((resolve) => setTimeout(resolve, 2100));
thread.stop();
await thread.join();
