// Loads CommonJS packages for one synchronous task and lets the garbage collector take them afterwards.
// A device needs zod (95 modules, its 60 locales among them) and yaml only to read device.yaml at start;
// imported as ES modules they would stay in the module map, ~3.5 MB of heap for the process's lifetime.

import { createRequire } from 'node:module';

/**
 * Runs `task` with a `require` and then drops every module of `packages` from the require cache, with
 * the globals they registered (zod keeps `__zod_globalConfig` and `__zod_globalRegistry` on globalThis),
 * so nothing but what `task` returned keeps them alive. `task` must not let their objects escape.
 */
export function withReleasedPackages<T>(packages: readonly string[], task: (load: NodeJS.Require) => T): T {
  const globalsBefore = new Set(Object.getOwnPropertyNames(globalThis));
  const load = createRequire(import.meta.url);
  try {
    return task(load);
  } finally {
    const ofPackage = (file: string): boolean => packages.some((p) => file.includes(`/node_modules/${p}/`));
    for (const file of Object.keys(load.cache)) if (ofPackage(file)) delete load.cache[file];
    const g = globalThis as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(globalThis)) {
      if (!globalsBefore.has(name) && packages.some((p) => name.startsWith(`__${p}_`))) delete g[name];
    }
  }
}
