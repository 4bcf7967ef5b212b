// deno-lint-ignore-file explicit-function-return-type explicit-module-boundary-types
// A runaway task for piscina (a worker file with a default export): loops until killed.
export default function runaway() {
  while (true) { /* burn */ }
}
