// Assertions that stay on in production (STYLE.md §6): a broken invariant stops the node, which
// restarts from its WAL. Expected failures are Results, never assertions.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Exhaustiveness check for closed tagged unions: the compiler rejects a missing case. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
