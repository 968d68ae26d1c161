// Loads CommonJS packages for a synchronous task and lets the garbage collector take them once the
// macrotask it ran in ends. A device needs zod and yaml only to read device.yaml at start; imported as ES
// modules they would stay in the module map, ~3.5 MB of heap for the process's lifetime.

import { createRequire, Module } from 'node:module';

/** The packages loaded for the tasks of the current macrotask, released when it ends. */
let held: { readonly key: string; readonly packages: readonly string[]; readonly load: NodeJS.Require; readonly globalsBefore: ReadonlySet<string> } | null = null;

/**
 * Runs `task` with a `require`; every module of `packages` is dropped from the require cache when the
 * current macrotask ends (setImmediate), with the globals they registered (zod keeps
 * `__zod_globalConfig` and `__zod_globalRegistry` on globalThis), so nothing but what `task` returned
 * keeps them alive. `task` must not let their objects escape. Tasks of one synchronous stretch share
 * the one load: fleet-sim starts its in-process devices four at a time, and each of the four read its
 * device.yaml with zod and yaml loaded anew (about 0.1-0.2 s of CPU each).
 *
 * `deferred`: modules of those packages that a package requires when it loads but the task may never
 * use; each is a stand-in until a property of its exports is first read, and only then required.
 */
export function withReleasedPackages<T>(packages: readonly string[], task: (load: NodeJS.Require) => T, deferred: readonly string[] = []): T {
  const key = packages.join('\n');
  if (held !== null && held.key !== key) releaseHeld();
  if (held === null) {
    const globalsBefore = new Set(Object.getOwnPropertyNames(globalThis));
    const load = createRequire(import.meta.url);
    held = { key, packages, load, globalsBefore };
    setImmediate(releaseHeld);
    for (const d of deferred) deferUntilUsed(load, d);
  }
  return task(held.load);
}

function releaseHeld(): void {
  if (held === null) return;
  const { packages, load, globalsBefore } = held;
  held = null;
  const ofPackage = (file: string): boolean => packages.some((p) => file.includes(`/node_modules/${p}/`));
  for (const file of Object.keys(load.cache)) if (ofPackage(file)) delete load.cache[file];
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (!globalsBefore.has(name) && packages.some((p) => name.startsWith(`__${p}_`))) delete g[name];
  }
}

/**
 * Puts a stand-in for `specifier` into `load`'s cache: its exports require the real module the first
 * time any of them is read, listed or tested (and the stand-in says it is an ES module's exports, as
 * the compiled module would, without loading anything). A specifier that does not resolve (a version
 * of the package without it) is left alone: whatever requires it then gets the real thing, or fails
 * as it would have.
 */
function deferUntilUsed(load: NodeJS.Require, specifier: string): void {
  let file: string;
  try {
    file = load.resolve(specifier);
  } catch {
    return;
  }
  if (load.cache[file] !== undefined) return;
  let real: object | undefined;
  const target = (): object => {
    if (real === undefined) {
      delete load.cache[file];
      real = load(file) as object;
    }
    return real;
  };
  const exports = new Proxy(
    {},
    {
      get: (_, key) => (key === '__esModule' ? true : Reflect.get(target(), key)),
      has: (_, key) => key === '__esModule' || Reflect.has(target(), key),
      ownKeys: () => Reflect.ownKeys(target()),
      // Reported configurable: a proxy may not claim a non-configurable property its empty target lacks.
      getOwnPropertyDescriptor: (_, key) => {
        const d = Reflect.getOwnPropertyDescriptor(target(), key);
        return d === undefined ? undefined : { configurable: true, enumerable: d.enumerable ?? false, writable: false, value: Reflect.get(target(), key) };
      },
    },
  );
  const stand = new Module(file);
  stand.filename = file;
  stand.loaded = true;
  stand.exports = exports;
  load.cache[file] = stand;
}
