// A CPU-bound task module for bench/when_pool_helps.ts.
export function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** The first byte of the SHA-256 of `bytes`, hashed with crypto.subtle. */
export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return digest[0]!;
}
