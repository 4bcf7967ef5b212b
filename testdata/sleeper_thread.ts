// The theta seed's subclass form (`class SleeperThread(StoppableThread): def run(self)`), as a
// module whose default export is the thread's run method.
import type { ThreadContext } from "../thread.ts";

export default function run(thread: ThreadContext, tick = 10): number {
  let t = 0;
  while (!thread.wait(tick)) t += 1;
  return t;
}

/** A named export, to run with `{ export: "named" }` or a `#named` fragment. */
export function named(thread: ThreadContext): string {
  return `named ${thread.name}`;
}

export const notAFunction = 42;
