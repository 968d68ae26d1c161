// A status LED through the Linux LED class (/sys/class/leds/NAME): plain file writes, no native code.
// Blink and heartbeat use the kernel's "timer" and "heartbeat" triggers when the LED offers them,
// and a software timer otherwise. (The GPIO character device needs ioctl(), i.e. native code.)

import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { deviceError, type DeviceError, type LedPattern, type StatusLed } from '../devices.js';
import { ledLitAt, validateLedPattern } from '../led-pattern.js';

export interface SysfsLedOptions {
  /** The LED's name under the class directory, e.g. "led0" or "ACT" on a Raspberry Pi. */
  readonly name: string;
  readonly classDir?: string;
}

export class SysfsLed implements StatusLed {
  readonly kind = 'led';
  readonly driver = 'sysfs';
  private readonly dir: string;
  private pattern: LedPattern = { type: 'off' };
  private triggers: string[] = [];
  private max = 1;
  private running = false;
  private softTimer: NodeJS.Timeout | null = null;
  private readonly t0 = Date.now();

  constructor(private readonly o: SysfsLedOptions) {
    if (!/^[A-Za-z0-9_:.-]+$/.test(o.name)) throw new Error(`LED name "${o.name}" is not a valid sysfs name`);
    this.dir = join(o.classDir ?? '/sys/class/leds', o.name);
  }

  start(): Promise<void> {
    if (!existsSync(join(this.dir, 'brightness'))) return Promise.reject(new Error(`no LED at ${this.dir} (brightness file missing)`));
    // Both are written on every set(): a device that may not write them fails here, at start, saying
    // why, rather than at its first health change. (Opening for writing changes nothing.)
    for (const file of ['brightness', ...(existsSync(join(this.dir, 'trigger')) ? ['trigger'] : [])]) {
      const why = this.notWritable(join(this.dir, file));
      if (why !== null) return Promise.reject(new Error(why));
    }
    this.max = Number(readFileSync(join(this.dir, 'max_brightness'), 'utf8').trim()) || 1;
    // The trigger file lists every trigger, the active one in brackets: "none [mmc0] timer heartbeat".
    this.triggers = existsSync(join(this.dir, 'trigger')) ? readFileSync(join(this.dir, 'trigger'), 'utf8').replace(/[[\]]/g, '').trim().split(/\s+/) : [];
    this.running = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopSoftware();
    this.running = false;
    return Promise.resolve();
  }

  set(pattern: LedPattern): Result<void, DeviceError> {
    if (!this.running) return err(deviceError('stopped', 'LED is not started'));
    const v = validateLedPattern(pattern);
    if (!v.ok) return v;
    try {
      this.stopSoftware();
      switch (pattern.type) {
        case 'off':
        case 'on':
          this.trigger('none');
          this.write('brightness', pattern.type === 'on' ? this.max : 0);
          break;
        case 'blink':
          if (this.triggers.includes('timer')) {
            this.trigger('timer');
            this.write('delay_on', Math.round(pattern.periodMs / 2));
            this.write('delay_off', Math.round(pattern.periodMs / 2));
          } else this.software(pattern);
          break;
        case 'heartbeat':
          if (this.triggers.includes('heartbeat')) this.trigger('heartbeat');
          else this.software(pattern);
          break;
      }
    } catch (e) {
      return err(deviceError('io', `LED ${this.dir}: ${(e as Error).message}`));
    }
    this.pattern = pattern;
    return ok(undefined);
  }

  current(): LedPattern {
    return this.pattern;
  }

  /** What the kernel reports now (it updates brightness while a trigger runs). */
  lit(): boolean {
    if (!this.running) return false;
    try {
      return Number(readFileSync(join(this.dir, 'brightness'), 'utf8').trim()) > 0;
    } catch {
      return false;
    }
  }

  /** Why this process may not write `path`, with the fix, or null when it may. */
  private notWritable(path: string): string | null {
    try {
      closeSync(openSync(path, constants.O_WRONLY));
      return null;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      if (code === 'EROFS') return `cannot write ${path} (EROFS): it is read-only to this service (systemd's ProtectSystem): add ReadWritePaths=${this.dir} in a drop-in (systemctl edit murmur)`;
      if (code === 'EACCES' || code === 'EPERM') {
        const files = '/sys%p/brightness /sys%p/trigger';
        return `cannot write ${path} (${code}): give this user write access to the LED, e.g. the udev rule ACTION=="add", SUBSYSTEM=="leds", KERNEL=="${this.o.name}", RUN+="/bin/chgrp murmur ${files}", RUN+="/bin/chmod g+w ${files}"`;
      }
      return `cannot write ${path}: ${(e as Error).message}`;
    }
  }

  private trigger(name: string): void {
    if (this.triggers.length > 0) writeFileSync(join(this.dir, 'trigger'), name);
  }

  private write(file: string, value: number): void {
    writeFileSync(join(this.dir, file), String(value));
  }

  private software(pattern: LedPattern): void {
    this.trigger('none');
    const tick = (): void => {
      try {
        this.write('brightness', ledLitAt(pattern, Date.now() - this.t0) ? this.max : 0);
      } catch {
        this.stopSoftware(); // the LED vanished; set() reports the next failure
      }
    };
    tick();
    this.softTimer = setInterval(tick, 25);
  }

  private stopSoftware(): void {
    if (this.softTimer) clearInterval(this.softTimer);
    this.softTimer = null;
  }
}
