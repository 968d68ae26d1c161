// The one check of a broker URL, shared by device.yaml, murmurctl, fleet-sim and the MQTT link.

/**
 * Why `url` is not a broker URL Murmur can connect to (a reason that does not repeat the URL), or null.
 * mqtt.js given a URL that does not parse (a port with a typo, `mqtt://host:1883x`) falls back to its
 * defaults and connects to port 1883 without a word: a device or operator would join whatever broker
 * runs there. So every URL is checked first.
 */
export function brokerUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const port = /^[a-z]+:\/\/[^/:@]*:([^/]*)/i.exec(url)?.[1];
    return port !== undefined && !/^\d{1,5}$/.test(port) ? `its port "${port}" is not a number` : port !== undefined ? `its port ${port} is past 65535` : 'it is not a URL';
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(u.protocol)) return `its scheme is ${u.protocol.slice(0, -1)}, not mqtt, mqtts, ws or wss`;
  if (u.hostname === '') return 'it names no host';
  if (u.port === '0') return 'its port is 0';
  return null;
}
