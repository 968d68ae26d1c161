// The access rules of docs/topics.md on a real Mosquitto (password_file + acl_file with %u patterns):
// devices publish only under their own topics, only operators publish commands.

import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { MqttLink } from '../../runtime/links/mqtt-link.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { Inbox, sleep } from './conformance.js';
import { Mosquitto } from './processes.js';

const fleet = 'acl-fleet';
const p = `murmur/v1/${fleet}`;
// The ACL docs/topics.md recommends for Mosquitto.
const acl = [`pattern read ${p}/#`, `pattern write ${p}/consensus/%u`, `pattern write ${p}/blocks/%u`, `pattern write ${p}/node/%u/#`, '', 'user op', `topic write ${p}/commands`, ''].join('\n');

describe('Mosquitto with the documented ACL', () => {
  it('delivers a device broadcast and an operator command, and drops a command from a device', async () => {
    const m = await Mosquitto.start(undefined, { users: { a: 'pw-a', b: 'pw-b', op: 'pw-op' }, acl });
    const a = new MqttLink({ url: m.url, fleet, node: 'a', username: 'a', password: 'pw-a', peers: ['a', 'b'] });
    const b = new MqttLink({ url: m.url, fleet, node: 'b', username: 'b', password: 'pw-b', peers: ['a', 'b'] });
    try {
      await a.start();
      await b.start();
      const inbox = new Inbox(b);
      a.broadcast(Buffer.from('vote from a'), 'consensus');
      await inbox.waitFor(1);
      const frame = (s: string) => Buffer.from(encodeFrame(fleetTag(fleet), 'consensus', Buffer.from(s)));
      // Device a (raw client with a's credentials) tries a command and b's topic: Mosquitto drops both.
      const rogue = await mqtt.connectAsync(m.url, { username: 'a', password: 'pw-a', clientId: 'rogue-a', reconnectPeriod: 0 });
      await rogue.publishAsync(fleetTopics(fleet).commands, frame('forged command'), { qos: 1 });
      await rogue.publishAsync(fleetTopics(fleet).consensus('b'), frame('posing as b'), { qos: 1 });
      const op = await mqtt.connectAsync(m.url, { username: 'op', password: 'pw-op', clientId: 'op', reconnectPeriod: 0 });
      await op.publishAsync(fleetTopics(fleet).commands, frame('operator command'), { qos: 1 });
      await inbox.waitFor(2);
      await sleep(200);
      expect(inbox.frames.map((f) => Buffer.from(f.bytes).toString())).toEqual(['vote from a', 'operator command']);
      await expect(new MqttLink({ url: m.url, fleet, node: 'a', username: 'a', password: 'wrong', startWaitMs: 2_000 }).start()).rejects.toThrow(/refused/);
      await rogue.endAsync();
      await op.endAsync();
    } finally {
      await a.stop();
      await b.stop();
      await m.stop();
    }
  });
});
