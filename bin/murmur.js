#!/usr/bin/env node
// `murmur start` takes SIGTERM, SIGINT and SIGHUP as a clean stop (runtime/cli/start.ts), but only once
// its modules are loaded, a second or more after exec (longer on a Pi). A stop before then finds nothing
// started and nothing written: exit 0 at once, as the stop would, rather than die by the signal (143,
// no line). start.ts removes these handlers when it takes the signals itself.
// These are the first statements of the process's own code, before any module of Murmur's loads (the
// launcher is imported below, not statically: ESM evaluates static imports before the module body).
// What remains is Node's own start-up from exec to here, where a signal has its default action (exit
// 143 or 130): about 0.1 s on a loaded x86 core (`npm run bench:early-signal` measures it); no code in
// the process can run earlier. systemd counts a death by SIGTERM as a clean stop (deploy/murmur.service).
if (process.argv[2] === "start") {
  const early = () => process.exit(0);
  early.murmurEarlyStop = true;
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.once(sig, early);
}

const { launch } = await import("./launch.js");
await launch("runtime/cli/murmur");
