/**
 * `Deno.openKv(path)`, retried while another process holds the SQLite file locked: processes
 * that open one file at once can see "database is locked" from openKv itself (seen with four
 * listener processes starting together), before any KvPool retry applies.
 */
export async function openKvRetrying(path: string): Promise<Deno.Kv> {
  for (let attempt = 0;; attempt++) {
    try {
      return await Deno.openKv(path);
    } catch (error) {
      if (!(error instanceof Error && /database is locked/i.test(error.message)) || attempt > 100) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}
