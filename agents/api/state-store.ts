// Where agents' state survives a restart: in memory (the simulator) or one JSON file per agent,
// replaced atomically (write to a temporary file, then rename) so a crash never leaves half a file.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StateStore {
  load(agent: string): unknown;
  save(agent: string, json: string): void;
  remove(agent: string): void;
}

export class MemoryStateStore implements StateStore {
  private readonly data = new Map<string, string>();
  load(agent: string): unknown {
    const s = this.data.get(agent);
    return s === undefined ? undefined : (JSON.parse(s) as unknown);
  }
  save(agent: string, json: string): void {
    this.data.set(agent, json);
  }
  remove(agent: string): void {
    this.data.delete(agent);
  }
}

export class FileStateStore implements StateStore {
  /** Whether `dir` was made: at the first save, not when the store is built (a device whose start is
   *  refused before its agents run leaves its data directory as it found it: runtime/cli/start.ts). */
  private made = false;
  constructor(private readonly dir: string) {}
  private file(agent: string): string {
    return join(this.dir, `${agent}.json`);
  }
  load(agent: string): unknown {
    try {
      return JSON.parse(readFileSync(this.file(agent), 'utf8')) as unknown;
    } catch {
      return undefined; // missing or unreadable state: the agent starts fresh, which is always safe
    }
  }
  save(agent: string, json: string): void {
    if (!this.made) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.made = true;
    const tmp = `${this.file(agent)}.tmp`;
    writeFileSync(tmp, json, { mode: 0o600 });
    renameSync(tmp, this.file(agent));
  }
  remove(agent: string): void {
    this.save(agent, 'null');
  }
}
