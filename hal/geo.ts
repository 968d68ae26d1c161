// Flat-earth conversions between WGS84 and a local north/east frame around an origin. Good to well
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

export function geoToLocal(origin: GeoOrigin, latDeg: number, lonDeg: number): LocalNe {
  return {
    northM: (latDeg - origin.latDeg) * degToRad * earthRadiusM,
    eastM: (lonDeg - origin.lonDeg) * degToRad * earthRadiusM * Math.cos(origin.latDeg * degToRad),
  };
}

export function localToGeo(origin: GeoOrigin, northM: number, eastM: number): { latDeg: number; lonDeg: number } {
  return {
    latDeg: origin.latDeg + northM / earthRadiusM / degToRad,
    lonDeg: origin.lonDeg + eastM / (earthRadiusM * Math.cos(origin.latDeg * degToRad)) / degToRad,
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
