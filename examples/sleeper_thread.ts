// The theta seed's subclass form, `class SleeperThread(StoppableThread): def run(self)`. In Deno a
// thread's code runs in a Worker, so "subclassing" is a module whose default export is `run`.
// Run: npx --yes deno@2.9.6 run --allow-read examples/sleeper_thread.ts
import { StoppableThread, type ThreadContext } from "../mod.ts";

/** The thread's run(): this module is loaded again inside the thread's worker. */
export default function run(thread: ThreadContext): void {
  let t = 0;
  while (!thread.wait(1000)) {
    t += 1;
    console.log(`INFO: Slept for between ${t} and ${t + 1} seconds`);
  }
}

if (import.meta.main) {
  const thread = new StoppableThread(new URL(import.meta.url));
  thread.start();
  await new Promise((resolve) => setTimeout(resolve, 2100));
  thread.stop();
  await thread.join();
}
