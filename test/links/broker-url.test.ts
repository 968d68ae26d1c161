// A broker URL is checked before anything connects: mqtt.js given one that does not parse (a typo in
// the port) falls back to port 1883 and joins whatever broker runs there.

import { describe, expect, it } from 'vitest';
import { brokerUrlProblem, redactBrokerUrl } from '../../runtime/links/broker-url.js';
import { connectMqtt } from '../../runtime/links/mqtt-connect.js';

describe('brokerUrlProblem', () => {
  it('accepts the URLs a fleet uses', () => {
    for (const u of ['mqtt://127.0.0.1:1883', 'mqtt://broker', 'mqtts://broker.example:8883', 'ws://[::1]:9001/mqtt', 'wss://u:p@broker/mqtt?x=1']) expect(brokerUrlProblem(u), u).toBeNull();
  });

  it('names what is wrong with the others', () => {
    expect(brokerUrlProblem('mqtt://127.0.0.1:21883x')).toBe('its port "21883x" is not a number');
    expect(brokerUrlProblem('mqtt://127.0.0.1:70000')).toBe('its port 70000 is past 65535');
    expect(brokerUrlProblem('mqtt://127.0.0.1:0')).toBe('its port is 0');
    expect(brokerUrlProblem('http://127.0.0.1:1883')).toBe('its scheme is http, not mqtt, mqtts, ws or wss');
    expect(brokerUrlProblem('127.0.0.1:1883')).toBe('it is not a URL');
    expect(brokerUrlProblem('localhost')).toBe('it is not a URL');
    expect(brokerUrlProblem('mqtt://')).toBe('it names no host');
    expect(brokerUrlProblem('mqtt://ho st:1883')).toBe('it is not a URL');
    expect(brokerUrlProblem('mqtt://[::1]:1883x')).toBe('its port "1883x" is not a number');
  });

  it('never repeats a password: the reason names the port alone, and the URL is shown without it', () => {
    const reason = brokerUrlProblem('mqtt://user:s3cret@host:1883x');
    expect(reason).toBe('its port "1883x" is not a number');
    expect(redactBrokerUrl('mqtt://user:s3cret@host:1883x')).toBe('mqtt://user:***@host:1883x');
    expect(redactBrokerUrl('mqtts://host:8883')).toBe('mqtts://host:8883');
    expect(() => connectMqtt('mqtt://user:s3cret@127.0.0.1:1883x', { reconnectPeriod: 0 })).toThrow('broker URL "mqtt://user:***@127.0.0.1:1883x": its port "1883x" is not a number');
  });

  it('connectMqtt refuses a URL that does not parse instead of connecting to port 1883', () => {
    expect(() => connectMqtt('mqtt://127.0.0.1:1883x', { reconnectPeriod: 0 })).toThrow('broker URL "mqtt://127.0.0.1:1883x": its port "1883x" is not a number');
  });
});
