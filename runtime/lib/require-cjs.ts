// The CommonJS packages a device loads at start (mqtt, pino, prom-client) are required, not imported.
// Imported from an ES module, a CommonJS package goes through Node's ESM translator, which reads and
// lexes its source (and the files it re-exports) for named exports and builds a module facade over it:
// for mqtt (97 modules) that was about 125 ms of CPU in a fresh Node 20 process, against about 85 ms
// to require it; the start.js module graph loads in about 0.1 s of CPU less with all three required.
// The objects are the same ones an import gives (an import's default is module.exports).

import { createRequire } from 'node:module';

/** require() resolving from the repository's (or a bundle's) node_modules, like an import from here. */
export const requireCjs = createRequire(import.meta.url);
