// Background jobs across processes on Redis: this process submits, two listener processes (this
// file again, with --listen) run the jobs. Start them on other machines pointing at one Redis and
// nothing changes.
// Run: npx --yes deno@2.9.6 run -A examples/bull_jobs.ts [redis url]
//      (default: $REDIS_URL, else redis://localhost:6379; unix:///path/redis.sock for a socket)
import { BullPool } from "../bull.ts";

const listen = Deno.args[0] === "--listen";
const url = (listen ? Deno.args[1] : Deno.args[0]) ?? Deno.env.get("REDIS_URL") ??
  "redis://localhost:6379";
const jobs = new BullPool<typeof import("./_bull_tasks.ts")>({
  connection: { url },
  name: "thumbnails",
  // Module tasks run on worker threads: a CPU-bound one cannot starve its lease.
  tasks: new URL("./_bull_tasks.ts", import.meta.url),
  concurrency: 1,
  backoffSchedule: [10],
});

if (listen) {
  const listening = jobs.listen();
  console.log("listening");
  for await (const _ of Deno.stdin.readable) { /* until the submitter closes stdin */ }
  await jobs.close();
  await listening;
  Deno.exit(0);
}

// The submitter: two listeners, then jobs.
const listeners = [0, 1].map(() => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--listen", url],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  return child;
});
for (const child of listeners) {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read(); // "listening"
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
}

const names = ["a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png", "h.png"];
const done = await Promise.all(names.map((name) => jobs.submit("thumbnail", name, 320)));
const processes = new Set(done.map((line) => line.split(" ").at(-1)));
console.log(`${done.length} jobs done on ${processes.size} listener processes:`, done[0]);

// A key makes enqueue idempotent: the second call returns the first job's id.
const first = await jobs.enqueue("thumbnail", ["cover.jpg", 1200], { key: "cover/1200" });
const again = await jobs.enqueue("thumbnail", ["cover.jpg", 1200], { key: "cover/1200" });
console.log("same key, same job:", first === again, "->", await jobs.result(first));

// A failing job is retried per backoffSchedule, then kept in the dead letters.
const bad = await jobs.enqueue("parse", ["broken.psd"]);
await jobs.result(bad).catch(() => {});
const dead = (await jobs.deadLetters()).find((job) => job.id === bad);
console.log(`dead letter after ${dead?.attempts} attempts:`, String(dead?.error));
await jobs.retry(bad); // back in the queue (it fails again here: the file is still broken)
await jobs.result(bad).catch(() => {});

for (const child of listeners) child.stdin.close();
await Promise.all(listeners.map((child) => child.status));
await jobs.close();
