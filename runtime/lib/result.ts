// Result: expected failures (bad frame, unknown peer, stale round) are values with a reason.

export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err<E> = { readonly ok: false; readonly error: E };
export type Result<T, E = string> = Ok<T> | Err<E>;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = <E>(error: E): Err<E> => ({ ok: false, error });

/** Unwraps or throws with the error text; for callers (CLIs, tests) where failure is fatal. */
export function unwrap<T, E>(r: Result<T, E>, context = ''): T {
  if (r.ok) return r.value;
  const text = typeof r.error === 'string' ? r.error : JSON.stringify(r.error);
  throw new Error(context ? `${context}: ${text}` : text);
}
