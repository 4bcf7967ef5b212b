// The reader and writer of the fandango ThreadDict example. Both run in the PollingMap's worker,
// so they share `data`, as the seed's two functions share their dict.
const data = new Map<string, unknown>();

function time2str(): string {
  return new Date().toISOString().slice(0, 19).replace("T", " ");
}

export function writer(k: string, v: unknown): string {
  const t = time2str();
  console.log(`${t}: ${v} => ${k}`);
  data.set(k, v);
  return `${t}:${v}`;
}

export function reader(k: string): string {
  const d = data.has(k) ? data.get(k) : "Empty!";
  console.log(`${d} <= ${k}`);
  return `${time2str()}:${d}`;
}
