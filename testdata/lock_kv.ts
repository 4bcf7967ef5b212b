// Holds a KV SQLite file's write lock, as another process writing to it would: for kv_test.ts.
// Usage: deno run --allow-read --allow-write testdata/lock_kv.ts <kv path> <ms>
// Prints "locked" once it holds the lock, then releases it after <ms>.
import { DatabaseSync } from "node:sqlite";

const [path, ms] = Deno.args;
const db = new DatabaseSync(path!);
db.exec("BEGIN EXCLUSIVE");
console.log("locked");
await new Promise((resolve) => setTimeout(resolve, Number(ms)));
db.exec("COMMIT");
db.close();
