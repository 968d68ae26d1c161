// "did you mean ...?" for mistyped names: the nearest known name, or none when nothing is close.

import { describe, expect, it } from 'vitest';
import { closestName, editDistance } from '../../runtime/lib/closest.js';

describe('closestName', () => {
  const types = ['noop', 'mission.survey', 'mission.goto', 'hold', 'resume', 'rtl', 'land', 'param.set', 'geofence.set'];
  it('counts insertions, deletions, substitutions and swapped neighbours as one edit each', () => {
    expect(editDistance('mission.surveyy', 'mission.survey')).toBe(1);
    expect(editDistance('hodl', 'hold')).toBe(1);
    expect(editDistance('lnad', 'land')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
  it('names the nearest known name for a typo, ignoring case, and none for a word that is not one', () => {
    expect(closestName('mission.surveyy', types)).toBe('mission.survey');
    expect(closestName('mision.goto', types)).toBe('mission.goto');
    expect(closestName('hodl', types)).toBe('hold');
    expect(closestName('HOLD', types)).toBe('hold');
    expect(closestName('paramset', types)).toBe('param.set');
    expect(closestName('xyzzy', types)).toBeNull();
    expect(closestName('fly', types)).toBeNull();
  });
});
