// The modes a vehicle may show once it accepted a flight action (FlightControl.modesAfter), where only
// a take-off and a goto differ between vehicles: a velocity is guided until it lapses into a hold, a
// return may end in its landing phase, a hold holds, a landing lands, and arming sets no mode.

import { assertNever } from '../runtime/lib/assert.js';
import type { FlightActionType, FlightMode } from './devices.js';

export function modesAfterAction(flies: { readonly takeoff: readonly FlightMode[]; readonly goto: readonly FlightMode[] }, action: FlightActionType): readonly FlightMode[] | null {
  switch (action) {
    case 'arm':
    case 'disarm':
      return null;
    case 'takeoff':
      return flies.takeoff;
    case 'goto':
      return flies.goto;
    case 'velocity':
      return ['guided', 'hold'];
    case 'hold':
      return ['hold'];
    case 'land':
      return ['land'];
    case 'return-to-launch':
      return ['return', 'land'];
    default:
      return assertNever(action, 'flight action');
  }
}
