// deno-lint-ignore-file explicit-function-return-type explicit-module-boundary-types
// The tiny task for piscina and tinypool (a worker file with a default export).
export default function inc(x) {
  return x + 1;
}
