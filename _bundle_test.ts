import assert from "node:assert/strict";
import { bundleSource, declarationOf } from "./_bundle.ts";

/** The modules _spawn.ts bundles into the worker (its `import * as` lines), as file URLs. */
async function bundledModules(): Promise<URL[]> {
  const spawn = await Deno.readTextFile(new URL("./_spawn.ts", import.meta.url));
  const paths = [...spawn.matchAll(/^import \* as \w+ from "(\.[^"]+)";$/gm)].map((m) => m[1]!);
  return paths.map((path) => new URL(path, import.meta.url));
}

Deno.test("bundled modules keep every module-level binding exported", async () => {
  // A binding that is not exported is missing from the worker's source: the worker starts, and
  // fails only when code that uses it runs (a ReferenceError deep in a wait, say).
  const modules = await bundledModules();
  assert.ok(modules.length > 20, `found ${modules.length} bundled modules in _spawn.ts`);
  const unexported: string[] = [];
  for (const url of modules) {
    const text = await Deno.readTextFile(url);
    for (const [line, number] of text.split("\n").map((l, i) => [l, i + 1] as const)) {
      if (/^(async\s+)?(function\*?|class|abstract\s+class|const|let|var|enum)\s/.test(line)) {
        unexported.push(`${url.pathname.split("/").slice(-2).join("/")}:${number}: ${line}`);
      }
    }
  }
  assert.deepEqual(unexported, []);
});

Deno.test("declarationOf re-declares functions, classes and primitives, and refuses objects", () => {
  assert.equal(declarationOf("n", 3), "const n = 3;");
  assert.equal(declarationOf("s", 'a"b'), 'const s = "a\\"b";');
  assert.match(declarationOf("f", (x: number) => x + 1), /^const f = \(x\)\s*=>\s*x \+ 1;$/);
  assert.throws(() => declarationOf("o", {}), {
    name: "TypeError",
    message: /Cannot bundle export "o" for workers as it is an object/,
  });
  assert.match(
    bundleSource([{ a: 1 }, { a: 1, b: "x" }], "run();"),
    /const a = 1;\n\nconst b = "x";\n\nrun\(\);$/,
  );
});
