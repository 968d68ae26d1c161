// The one check of a broker URL, shared by device.yaml, murmurctl, fleet-sim and the MQTT link, and
// the form of it that may be shown (a password in it is not).

/** `url` with the password of its user part, if any, replaced by ***. */
export function redactBrokerUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/**
 * Why `url` is not a broker URL Murmur can connect to (a reason that repeats no part of the URL but
 * its port), or null. mqtt.js given a URL that does not parse (a port with a typo, `mqtt://host:1883x`)
 * falls back to its defaults and connects to port 1883 without a word: a device or operator would join
 * whatever broker runs there. So every URL is checked first.
 */
export function brokerUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // scheme://[user[:password]@]host[:port][/...], the host a name, an IPv4 or a [bracketed] IPv6.
    const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/@]*@)?(\[[^\]/]*\]|[^/:[\]]*)(?::([^/]*))?(?:\/.*)?$/i.exec(url);
    const port = m?.[2];
    if (m === null || port === undefined) return 'it is not a URL';
    if (!/^\d{1,5}$/.test(port)) return `its port "${port}" is not a number`;
    if (Number(port) > 65_535) return `its port ${port} is past 65535`;
    return 'it is not a URL';
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(u.protocol)) return `its scheme is ${u.protocol.slice(0, -1)}, not mqtt, mqtts, ws or wss`;
  if (u.hostname === '') return 'it names no host';
  if (u.port === '0') return 'its port is 0';
  return null;
}
