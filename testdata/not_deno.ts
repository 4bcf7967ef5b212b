// For pool_test.ts: theta on a runtime with Worker but without Deno (as Bun or Node with a
// Worker global): pools and threads fail at once, saying so, instead of spinning.
const realDeno = (globalThis as { Deno?: unknown }).Deno;
Object.defineProperty(globalThis, "Deno", { value: undefined, configurable: true });
const { Pool } = await import("../pool.ts");
const { StoppableThread } = await import("../thread.ts");
const lines: string[] = [];
for (const attempt of [() => new Pool({ size: 2 }), () => new StoppableThread(() => 1)]) {
  try {
    attempt();
    lines.push("created");
  } catch (error) {
    lines.push(`${(error as Error).name}: ${(error as Error).message}`);
  }
}
const warn = console.warn;
console.warn = (message: string) => lines.push(`warning: ${message}`);
const inline = new Pool();
console.warn = warn;
lines.push(`inline size ${inline.size}: ${await inline.run((x: number) => x + 1, [1])}`);
Object.defineProperty(globalThis, "Deno", { value: realDeno, configurable: true });
console.log(lines.join("\n"));
