// A simulated status LED: remembers its pattern and answers lit() from the simulation clock.

import { ok, type Result } from '../../runtime/lib/result.js';
import { deviceError, type DeviceError, type LedPattern, type StatusLed } from '../devices.js';
import { err } from '../../runtime/lib/result.js';
import { ledLitAt, validateLedPattern } from '../led-pattern.js';

export class SimLed implements StatusLed {
  readonly kind = 'led';
  readonly driver = 'sim';
  private pattern: LedPattern = { type: 'off' };
  private running = false;

  constructor(private readonly nowMs: () => number) {}

  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }

  set(pattern: LedPattern): Result<void, DeviceError> {
    if (!this.running) return err(deviceError('stopped', 'LED is not started'));
    const v = validateLedPattern(pattern);
    if (!v.ok) return v;
    this.pattern = pattern;
    return ok(undefined);
  }

  current(): LedPattern {
    return this.pattern;
  }

  lit(): boolean {
    return this.running && ledLitAt(this.pattern, this.nowMs());
  }
}
