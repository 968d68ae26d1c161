// Flat-earth conversions between WGS84 and a local north/east frame around an origin (longitudes wrap
// at the antimeridian; origins beyond originLatDegMax are refused by device.yaml). Good to well
// under a metre over the few kilometres a swarm covers; fleet-sim and the simulated FC both use it.

export const earthRadiusM = 6_371_000;
const degToRad = Math.PI / 180;

export interface LocalNe {
  readonly northM: number;
  readonly eastM: number;
}

export interface GeoOrigin {
  readonly latDeg: number;
  readonly lonDeg: number;
}

/**
 * The most northern or southern origin the frame takes (device.yaml `origin.latDeg`): east-west
 * metres per degree shrink as cos(latitude), and the frame keeps the origin's scale across its area:
 * a kilometre north of an origin at 85 degrees, east distances are already about 2 m out per
 * kilometre (0.2 m at 47 degrees), and at the pole the frame has no east at all.
 */
export const originLatDegMax = 85;

/** A longitude (or a difference of two) brought into -180..180 degrees, so a frame whose origin lies
 *  near the antimeridian (Fiji, Chukotka) sees a fix at -179.9995 as just east of 179.9995. */
export function wrapLonDeg(deg: number): number {
  if (deg >= -180 && deg <= 180) return deg; // as it is, bit for bit
  return ((((deg + 180) % 360) + 360) % 360) - 180;
}

export function geoToLocal(origin: GeoOrigin, latDeg: number, lonDeg: number): LocalNe {
  return {
    northM: (latDeg - origin.latDeg) * degToRad * earthRadiusM,
    eastM: wrapLonDeg(lonDeg - origin.lonDeg) * degToRad * earthRadiusM * Math.cos(origin.latDeg * degToRad),
  };
}

export function localToGeo(origin: GeoOrigin, northM: number, eastM: number): { latDeg: number; lonDeg: number } {
  return {
    latDeg: origin.latDeg + northM / earthRadiusM / degToRad,
    lonDeg: wrapLonDeg(origin.lonDeg + eastM / (earthRadiusM * Math.cos(origin.latDeg * degToRad)) / degToRad),
  };
}

/** Great-circle distance (haversine), metres. */
export function distanceM(aLat: number, aLon: number, bLat: number, bLon: number): number {
  const dLat = (bLat - aLat) * degToRad;
  const dLon = (bLon - aLon) * degToRad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(aLat * degToRad) * Math.cos(bLat * degToRad) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadiusM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Wraps an angle to -pi..pi. */
export function wrapPi(rad: number): number {
  let a = rad % (2 * Math.PI);
  if (a > Math.PI) a -= 2 * Math.PI;
  if (a < -Math.PI) a += 2 * Math.PI;
  return a;
}
