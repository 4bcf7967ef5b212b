// A Redis server of a test's own: on a Unix socket in a temp dir (no TCP port), stopped through
// its child handle. Usage: `await using redis = await startRedis();` then `redis.url`.

/** True if `redis-server` can be run here (tests that need it are skipped, saying so, if not). */
export const hasRedis: boolean = await new Deno.Command("redis-server", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
}).output().then((out) => out.success, () => false);

if (!hasRedis) {
  console.warn("redis-server not found: BullPool tests are skipped (apt-get install redis-server)");
}

/** A running test server. */
export interface TestRedis extends AsyncDisposable {
  /** `unix:///.../redis.sock`, for `connection.url`. */
  url: string;
  /** The socket's path. */
  path: string;
  /** Stops the server (SIGTERM: it writes its append-only file) and starts it again. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a socket in a new temp dir; resolves once it accepts connections.
 *
 * @param options `appendonly`: persist every write (for restart tests).
 */
export async function startRedis(options: { appendonly?: boolean } = {}): Promise<TestRedis> {
  const dir = await Deno.makeTempDir({ prefix: "theta_redis_" });
  const path = `${dir}/redis.sock`;
  const args = [
    "--port",
    "0",
    "--unixsocket",
    path,
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    options.appendonly ? "yes" : "no",
    "--appendfsync",
    "always",
  ];
  let child = await spawn(args);
  const stopChild = async (): Promise<void> => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already ended
    }
    await child.status;
  };
  const stop = async (): Promise<void> => {
    await stopChild();
    await Deno.remove(dir, { recursive: true });
  };
  return {
    url: `unix://${path}`,
    path,
    async restart(): Promise<void> {
      await stopChild();
      child = await spawn(args);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function spawn(args: string[]): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("redis-server", { args, stdout: "piped", stderr: "inherit" })
    .spawn();
  // Read its log until it says it is ready, then let the rest drain away.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  while (!/ready to accept connections/i.test(log)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`redis-server ended before it was ready:\n${log}`);
    log += value;
  }
  reader.releaseLock();
  child.stdout.pipeTo(new WritableStream()).catch(() => {});
  return child;
}
