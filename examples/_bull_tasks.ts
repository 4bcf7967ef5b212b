// The tasks of examples/bull_jobs.ts: every process that submits or listens names these.

/** Renders a (pretend) thumbnail: takes a while, says which process did it. */
export async function thumbnail(name: string, width: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  return `${name.replace(/\.\w+$/, "")}-${width}px.webp by process ${Deno.pid}`;
}

/** Fails for a name it cannot read: its error lands in the dead letters. */
export function parse(name: string): never {
  throw new RangeError(`cannot parse ${name}`);
}
