// Copyright theta authors. MIT license.
// Builds the source of theta's worker from the modules it needs, at run time.
//
// Why: a Worker loaded from a file URL needs --allow-read (and from https, --allow-net), but
// function tasks must need no permission at all. So the worker is a blob URL whose source is the
// real code of the bundled modules: each export becomes a declaration again, from the function or
// class's own source text (what V8 runs, after TypeScript is stripped) or a primitive's literal.
// The same codec, ring and shareable classes therefore run on both sides, written once.
//
// The rule this imposes on bundled modules (_errors, _codec, _signal_watch, _futex, _ring,
// _shareable, sync, queue, channel, callqueue, _pool/protocol, _pool/mailbox, _thread/protocol,
// _worker/): every module-level binding is exported, is a function, a class or a primitive, and
// names are unique across them. An export of another kind fails every worker at start, which the
// pool and thread tests see at once; a binding left unexported is missing from the worker's source
// and fails only when code that uses it runs, which _bundle_test.ts checks for.

/**
 * Re-declares one export from its runtime value.
 *
 * @throws {TypeError} If the value cannot be turned back into source.
 */
export function declarationOf(name: string, value: unknown): string {
  switch (typeof value) {
    case "function": {
      const source = Function.prototype.toString.call(value);
      if (/^(class|(async\s+)?function)\b/.test(source)) return source;
      return `const ${name} = ${source};`;
    }
    case "number":
    case "boolean":
      return `const ${name} = ${String(value)};`;
    case "string":
      return `const ${name} = ${JSON.stringify(value)};`;
    case "undefined":
      return `const ${name} = undefined;`;
    case "symbol": {
      const key = Symbol.keyFor(value);
      return key === undefined
        ? `const ${name} = Symbol(${JSON.stringify(value.description ?? name)});`
        : `const ${name} = Symbol.for(${JSON.stringify(key)});`;
    }
    default:
      throw new TypeError(
        `Cannot bundle export "${name}" for workers as it is ${
          value === null ? "null" : "an object"
        }: export only functions, classes and primitives from bundled modules`,
      );
  }
}

/**
 * Concatenates the declarations of every export of `modules`, in order, then `entry`.
 *
 * @param modules Module namespaces, dependencies first.
 * @param entry Code that starts the worker.
 * @returns The worker's source.
 */
export function bundleSource(modules: readonly object[], entry: string): string {
  const seen = new Set<unknown>();
  const parts: string[] = [];
  for (const namespace of modules) {
    for (const [name, value] of Object.entries(namespace)) {
      // Re-exports (queue.ts re-exports _errors.ts classes) appear once. Functions and classes
      // are the same object wherever re-exported; primitives are told apart by name.
      const key = typeof value === "function" ? value : `${typeof value}:${name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      parts.push(declarationOf(name, value));
    }
  }
  parts.push(entry);
  return parts.join("\n\n");
}
