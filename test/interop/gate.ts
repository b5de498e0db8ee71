/**
 * Gates a test opens to release a task that waits in `tasks.block`. Kept out
 * of tasks.ts because every function tasks.ts exports becomes a task.
 */
const gates = new Map<string, { promise: Promise<void>; open: () => void }>();

function gate(name: string): { promise: Promise<void>; open: () => void } {
  let g = gates.get(name);
  if (!g) {
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    g = { promise, open };
    gates.set(name, g);
  }
  return g;
}

export function waitGate(name: string): Promise<void> {
  return gate(name).promise;
}

export function openGate(name: string): void {
  gate(name).open();
}
