// fandango's WorkerThread mapped onto theta: send(key, target, args, callback) is a pool task
// with a callback; add(key, target, args, period, expire, callback) is a polled key; command()
// runs sequentially and returns the result.
// Run: npx --yes deno@2.9.6 run examples/worker_thread.ts
import { PollingMap, Pool } from "../mod.ts";

await using cp = new Pool({ size: 1 }); // one background worker, as WorkerThread has
const data = new Map<string, unknown>(); // WorkerThread's `data` dictionary of results

// CP.send('A1', target, args, callback=callback): returns at once, runs target(args) in the
// background, then calls callback(result) here.
const send = (
  key: string,
  target: (...args: number[]) => unknown,
  args: number[],
  callback?: (x: unknown) => void,
) =>
  cp.run(target, args).then((result) => {
    data.set(key, result);
    callback?.(result);
  });
await send("A1", (a: number, b: number) => a * b, [6, 7], (x) => console.log("A1 callback:", x));

// CP.command('comm', args): sequential; returns when everything queued before it is done.
const command = <R>(target: (...args: number[]) => R, args: number[] = []) => cp.run(target, args);
console.log("command:", await command((n: number) => n + 1, [41]));

// CP.add(key, target, args, period, expire, callback): a key updated every period in the
// background, whose value expires, with a callback on each update.
await using polled = new PollingMap<string, number>({
  read: (key: string) => key.length * 100,
  period: 20,
  expire: 1000,
});
const updated = new Promise<void>((resolve) => {
  const off = polled.onUpdate((key, value) => {
    console.log(`add callback: ${key} = ${value}`);
    off();
    resolve();
  });
});
polled.poll("B2");
await updated;
console.log("data:", Object.fromEntries(data), "polled:", polled.get("B2"));
