// The CallQueue recipe's two examples, in theta.
// Run: npx --yes deno@2.9.6 run examples/callqueue.ts
import { CallQueue, StoppableThread, type ThreadContext } from "../mod.ts";

// example_CallQueue: a caller schedules I/O jobs with call_and_collect and harvests them with
// get_next_collected while a consumer (here the main thread, serving) works on them.
{
  const urls = ["/", "/about/gettingstarted", "/about/apps/", "/about/quotes"];
  const cq = new CallQueue({
    work: async (url: string) => {
      await new Promise((resolve) => setTimeout(resolve, 10)); // the recipe's urlopen(url).read()
      return `<page of ${url.length * 100} bytes>`.length;
    },
  });
  const controller = new AbortController();
  const serving = cq.serve({ signal: controller.signal });
  const harvester = new StoppableThread(
    (_t, cq: CallQueue<{ work: (url: string) => Promise<number> }>, urls: string[]) => {
      for (const url of urls) cq.callAndCollect("work", [url]); // schedule
      const lines: string[] = [];
      for (let item; (item = cq.getNextCollected(1000)) !== undefined;) { // harvest
        lines.push(`${item.args[0]} ${item.result()}`);
      }
      return lines;
    },
    { args: [cq, urls] },
  ).start();
  for (const line of await harvester.join()) console.log(line);
  controller.abort();
  await serving;
  console.log("example_CallQueue done.");
}

// example2_CallQueue: interact with a busy loop, then stop it with an error raised inside it.
// In Deno the main thread is the busy loop, and a worker thread calls into it.
{
  const l: number[] = []; // filled by the busy loop
  const cq = new CallQueue({
    snapshot: () => l.slice(),
    exit: () => {
      throw new Error("SystemExit");
    },
  });
  const caller = new StoppableThread((
    _t: ThreadContext,
    cq: CallQueue<{
      snapshot: () => number[];
      exit: () => never;
    }>,
  ) => {
    const lines: string[] = [];
    const snapshot = cq.call("snapshot"); // synchronous call
    lines.push(`1st snapshot: ${snapshot.length} numbers`);
    const item = cq.call("snapshot", [], { wait: false }); // non-blocking call
    while (!item.done()) { /* the recipe prints "." here */ }
    lines.push(`2nd snapshot: ${item.result().length} numbers`);
    cq.call("exit", [], { raise: "receiver" }); // raises SystemExit inside the busy loop
    return lines;
  }, { args: [cq] }).start();
  try {
    for (;;) {
      cq.receive();
      l.push(Math.random());
    }
  } catch (error) {
    console.log(`my_thread terminated (${(error as Error).message}).`);
  }
  for (const line of await caller.join()) console.log(line);
  console.log("end state:", l.length > 0 ? "some" : "no", "numbers");
  console.log("example2_CallQueue done.");
}
