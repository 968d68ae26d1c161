// Waiting on something that may never answer (a broker that stopped acknowledging, a peer gone silent)
// with a bound: shutdown and clean-up paths must not hang on it.

/** Resolves when `p` settles (either way) or after `ms`, whichever is first; true if `p` settled. */
export function withinMs(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    const settled = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    p.then(settled, settled);
  });
}
