// What a stall line says of the device's own links (device.ts unsteadyLinks, read once a second): a
// link that counts its drops (MQTT) is read by the count, so connections taken over, each down for
// 100-200 ms between two looks, are all seen; a link that does not is read by its up-state.

import { describe, expect, it } from 'vitest';
import { Device } from '../../runtime/device/device.js';

type Look = (now: number) => string[];

function watcher(states: () => { name: string; up: boolean; counters: object }[]): Look {
  const self = { link: { linkStates: states }, linkWatch: new Map() };
  const f = (Device.prototype as unknown as { unsteadyLinks: (this: typeof self, now: number) => string[] }).unsteadyLinks;
  return (now) => f.call(self, now);
}

describe("a device's own links in its stall line", () => {
  it('counts every drop a link counts, though it is up at each look (a client id taken over)', () => {
    let disconnects = 0;
    const look = watcher(() => [{ name: 'mqtt', up: true, counters: { disconnects } }]);
    expect(look(0)).toEqual([]);
    // 50 drops a minute, each over between two looks: sampling `up` saw about one in five.
    for (let s = 1; s <= 60; s++) {
      if (s % 6 !== 0) disconnects++;
      look(s * 1_000);
    }
    expect(look(60_500)).toEqual(['mqtt dropped 50 times in 60 s']);
    // A quiet minute later: steady again.
    expect(look(125_000)).toEqual([]);
  });

  it('a link that counts nothing is read by its up-state: down now, or gone down more than once in a minute', () => {
    let up = true;
    const look = watcher(() => [{ name: 'radio0', up, counters: {} }]);
    look(0);
    up = false;
    expect(look(1_000)).toEqual(['radio0 down']);
    up = true;
    expect(look(2_000)).toEqual([]);
    up = false;
    look(3_000);
    up = true;
    expect(look(4_000)).toEqual(['radio0 dropped 2 times in 60 s']);
  });
});
