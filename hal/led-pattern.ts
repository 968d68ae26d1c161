// What an LED pattern looks like at a given time: shared by the simulated LED and the Linux drivers
// that have to blink in software (the GPIO character device has no kernel trigger).

import { ok, err, type Result } from '../runtime/lib/result.js';
import { deviceError, type DeviceError, type LedPattern } from './devices.js';

export const ledBlinkPeriodMsMin = 50;
export const ledBlinkPeriodMsMax = 10_000;

export function validateLedPattern(p: LedPattern): Result<LedPattern, DeviceError> {
  if (p.type === 'blink' && !(Number.isFinite(p.periodMs) && p.periodMs >= ledBlinkPeriodMsMin && p.periodMs <= ledBlinkPeriodMsMax)) {
    return err(deviceError('rejected', `blink periodMs must be ${ledBlinkPeriodMsMin}..${ledBlinkPeriodMsMax}, got ${p.periodMs}`));
  }
  return ok(p);
}

/** Whether the pattern is lit at timeMs (heartbeat: two 100 ms flashes per 1.2 s, like Linux's trigger). */
export function ledLitAt(p: LedPattern, timeMs: number): boolean {
  switch (p.type) {
    case 'off':
      return false;
    case 'on':
      return true;
    case 'blink':
      return timeMs % p.periodMs < p.periodMs / 2;
    case 'heartbeat': {
      const t = timeMs % 1200;
      return t < 100 || (t >= 250 && t < 350);
    }
  }
}
