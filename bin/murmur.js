#!/usr/bin/env node
import { launch } from "./launch.js";

// `murmur start` takes SIGTERM, SIGINT and SIGHUP as a clean stop (runtime/cli/start.ts), but only once
// its modules are loaded, a second or more after exec (longer on a Pi). A stop before then finds nothing
// started and nothing written: exit 0 at once, as the stop would, rather than die by the signal (143,
// no line). start.ts removes these handlers when it takes the signals itself.
if (process.argv[2] === "start") {
  const early = () => process.exit(0);
  early.murmurEarlyStop = true;
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.once(sig, early);
}

await launch("runtime/cli/murmur");
