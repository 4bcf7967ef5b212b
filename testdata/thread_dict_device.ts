// The fandango seed's ThreadDict example: a reader and a writer sharing one `data` map. Both run
// in the PollingMap's worker, so they share this module's state.
const data = new Map<string, unknown>();

function timestamp(): string {
  return new Date().toISOString();
}

export function writer(key: string, value: unknown): string {
  data.set(key, value);
  return `${timestamp()}:${value}`;
}

export function reader(key: string): string {
  return `${timestamp()}:${data.has(key) ? data.get(key) : "Empty!"}`;
}

export function failing(key: string): never {
  throw new RangeError(`Cannot read ${key}`);
}
