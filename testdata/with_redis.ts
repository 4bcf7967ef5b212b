// Runs a command with a Redis server of its own, for the BullPool examples in `deno test --doc`:
// REDIS_URL names the server's socket; the server is stopped when the command ends.
// Without redis-server, bull.ts is left out (saying so) and the rest runs.
// Usage: deno run -A testdata/with_redis.ts <command> [args...]
import { hasRedis, startRedis } from "./redis.ts";

const [command, ...args] = Deno.args;
if (command === undefined) throw new TypeError("Usage: with_redis.ts <command> [args...]");
const redis = hasRedis ? await startRedis() : undefined;
try {
  const env: Record<string, string> = redis === undefined ? {} : { REDIS_URL: redis.url };
  // "deno" is the running one: it need not be on PATH (npx runs it from its cache).
  const status = await new Deno.Command(command === "deno" ? Deno.execPath() : command, {
    args: redis === undefined ? [...args, "--ignore=bull.ts"] : args,
    env,
  }).spawn().status;
  Deno.exitCode = status.code;
} finally {
  await redis?.stop();
}
