// The simulated flight controller's telemetry streams: GLOBAL_POSITION_INT, ATTITUDE and GPS_RAW_INT
// (the raw, noisy receiver) at the fast rate; SYS_STATUS, BATTERY_STATUS, EXTENDED_SYS_STATE,
// HOME_POSITION, MISSION_CURRENT, LOCAL_POSITION_NED, the estimator's report (ArduPilot EKF_STATUS_REPORT, PX4
// ESTIMATOR_STATUS) and (while a fence is enabled) FENCE_STATUS at 1 Hz; HIGHRES_IMU or SCALED_IMU,
// and the estimator's report faster, when a companion asks for them.

import { ardupilotmega, common } from 'node-mavlink';
import { localToGeo } from '../../hal/geo.js';
import { mavMsgId } from '../mavlink/vehicle.js';
import type { SimFlightController } from './sim-fc.js';

export function statusText(text: string, severity = 6): common.StatusText {
  const m = new common.StatusText();
  m.severity = severity; // MAV_SEVERITY: 2 critical, 4 warning, 6 info
  m.text = text.slice(0, 50);
  m.id = 0;
  m.chunkSeq = 0;
  return m;
}

export function sendTelemetry(fc: SimFlightController): void {
  const v = fc.vehicle;
  const s = v.state();
  const boot = fc.nowMs() >>> 0;
  const est = fc.estimatedNe(); // the FC's estimate: the vehicle's position while it has one
  // ArduPilot with no EKF origin sends its location zeroed; PX4 sends none.
  const noOrigin = !fc.globalOrigin() && fc.family === 'ardupilot';
  if (est !== null || noOrigin) {
    const geo = est === null ? { latDeg: 0, lonDeg: 0 } : localToGeo(v.origin, est.northM, est.eastM);
    const p = new common.GlobalPositionInt();
    p.timeBootMs = boot;
    p.lat = Math.round(geo.latDeg * 1e7);
    p.lon = Math.round(geo.lonDeg * 1e7);
    // The estimator's height: the vehicle's, or held where its vertical position was lost.
    const upM = fc.estimatedUpM();
    p.alt = Math.round((v.config.origin.altMslM + upM) * 1000);
    p.relativeAlt = Math.round(upM * 1000);
    p.vx = Math.round(s.velocityNed.x * 100);
    p.vy = Math.round(s.velocityNed.y * 100);
    p.vz = Math.round(s.velocityNed.z * 100);
    p.hdg = Math.round((((s.yawRad * 180) / Math.PI + 360) % 360) * 100);
    fc.send(p);
  }
  const att = v.attitude();
  const a = new common.Attitude();
  a.timeBootMs = boot;
  a.roll = att.rollRad;
  a.pitch = att.pitchRad;
  a.yaw = att.yawRad;
  a.rollspeed = 0;
  a.pitchspeed = 0;
  a.yawspeed = 0;
  fc.send(a);
  const fix = fc.receiverFix();
  if (fix) {
    const g = new common.GpsRawInt();
    g.timeUsec = BigInt(Math.round(fix.timeMs)) * 1000n;
    g.fixType = fix.fixType as common.GpsFixType; // GPS_FIX_TYPE_3D_FIX, or NO_FIX with the last coordinates
    g.lat = Math.round(fix.latDeg * 1e7);
    g.lon = Math.round(fix.lonDeg * 1e7);
    g.alt = Math.round(fix.altMslM * 1000);
    g.eph = fix.fixType === 3 ? Math.round(fix.hdop * 100) : 65535;
    g.epv = 65535; // unknown
    g.vel = Math.round(fix.groundSpeedMps * 100);
    g.cog = Math.round(fix.courseDeg * 100) % 36000;
    g.satellitesVisible = fix.satellites;
    g.altEllipsoid = 0;
    g.hAcc = g.vAcc = g.velAcc = g.hdgAcc = 0;
    g.yaw = 0;
    fc.send(g);
  }
}

/** HOME_POSITION: where the vehicle started (this FC's origin), with that ground's altitude. */
export function homePosition(fc: SimFlightController): common.HomePosition {
  const v = fc.vehicle;
  const home = new common.HomePosition();
  home.latitude = Math.round(v.origin.latDeg * 1e7);
  home.longitude = Math.round(v.origin.lonDeg * 1e7);
  home.altitude = Math.round(v.config.origin.altMslM * 1000);
  home.x = home.y = home.z = 0;
  home.q = [1, 0, 0, 0];
  home.approachX = home.approachY = home.approachZ = 0;
  home.timeUsec = BigInt(fc.nowMs()) * 1000n;
  return home;
}

export function sendSlowTelemetry(fc: SimFlightController): void {
  const v = fc.vehicle;
  const b = v.batteryState();
  const pct = Math.round(b.remainingFraction * 100);
  const sys = new common.SysStatus();
  // The only sensor bit simulated: MAV_SYS_STATUS_GEOFENCE, present once a fence is held, enabled
  // while it is on, unhealthy while it is breached (as ArduPilot reports it).
  const fence = fc.fence.status();
  const geofenceBit = common.MavSysStatusSensor.GEOFENCE;
  const present = fence.vertices > 0 || fence.altMaxM !== null ? geofenceBit : 0;
  sys.onboardControlSensorsPresent = present as common.MavSysStatusSensor;
  sys.onboardControlSensorsEnabled = (fence.enabled ? present : 0) as common.MavSysStatusSensor;
  sys.onboardControlSensorsHealth = (fence.breached === null ? present : 0) as common.MavSysStatusSensor;
  sys.load = 200;
  sys.voltageBattery = Math.round(b.voltageV * 1000);
  sys.currentBattery = Math.round(b.currentA * 100);
  sys.batteryRemaining = pct;
  sys.dropRateComm = 0;
  sys.errorsComm = fc.endpoint.counters().badCrc & 0xffff;
  sys.errorsCount1 = sys.errorsCount2 = sys.errorsCount3 = sys.errorsCount4 = 0;
  fc.send(sys);
  const bat = new common.BatteryStatus();
  bat.id = 0;
  bat.batteryFunction = 1; // MAV_BATTERY_FUNCTION_ALL
  bat.type = 1; // MAV_BATTERY_TYPE_LIPO
  bat.temperature = 32767; // unknown
  const cellMv = Math.round((b.voltageV / v.config.battery.cells) * 1000);
  bat.voltages = Array.from({ length: 10 }, (_, i) => (i < v.config.battery.cells ? cellMv : 65535));
  bat.currentBattery = Math.round(b.currentA * 100);
  bat.currentConsumed = Math.round(b.consumedMah);
  bat.energyConsumed = -1;
  bat.batteryRemaining = pct;
  bat.timeRemaining = 0;
  bat.chargeState = b.status === 'critical' ? 3 : b.status === 'low' ? 2 : 1; // MAV_BATTERY_CHARGE_STATE: 1 ok, 2 low, 3 critical
  bat.voltagesExt = [0, 0, 0, 0];
  bat.mode = 0;
  bat.faultBitmask = 0 as common.MavBatteryFault;
  fc.send(bat);
  const ext = new common.ExtendedSysState();
  ext.vtolState = 0;
  const landed = v.state().landed;
  ext.landedState = landed === 'on-ground' ? 1 : landed === 'in-air' ? 2 : landed === 'taking-off' ? 3 : landed === 'landing' ? 4 : 0;
  fc.send(ext);
  fc.send(homePosition(fc));
  sendEstimatorStatus(fc);
  const local = fc.localNe();
  const lp = new common.LocalPositionNed();
  lp.timeBootMs = fc.nowMs() >>> 0;
  lp.x = local.northM;
  lp.y = local.eastM;
  lp.z = -v.state().upM;
  lp.vx = v.state().velocityNed.x;
  lp.vy = v.state().velocityNed.y;
  lp.vz = v.state().velocityNed.z;
  fc.send(lp);
  if (fence.enabled) fc.send(fc.fence.message());
  const ms = fc.missionState();
  if (ms.items > 0) {
    const cur = new common.MissionCurrent();
    cur.seq = Math.max(0, ms.current);
    cur.total = ms.items;
    cur.missionState = 0;
    cur.missionMode = 0;
    cur.missionId = cur.fenceId = cur.rallyPointsId = 0;
    fc.send(cur);
  }
}

/** One IMU sample of the simulated vehicle: HIGHRES_IMU in SI units, or SCALED_IMU in mG and mrad/s. */
export function sendImu(fc: SimFlightController, id: number): void {
  const { accelMps2: a, gyroRadps: w } = fc.vehicle.imu();
  if (id === mavMsgId.highresImu) {
    const m = new common.HighresImu();
    m.timeUsec = BigInt(Math.round(fc.nowMs())) * 1000n;
    m.xacc = a.x;
    m.yacc = a.y;
    m.zacc = a.z;
    m.xgyro = w.x;
    m.ygyro = w.y;
    m.zgyro = w.z;
    m.xmag = m.ymag = m.zmag = 0;
    m.absPressure = m.diffPressure = m.pressureAlt = m.temperature = 0;
    m.fieldsUpdated = 0x3f as common.HighresImuUpdatedFlags; // accel and gyro, x/y/z
    m.id = 0;
    fc.send(m);
    return;
  }
  const mg = (x: number): number => Math.max(-32768, Math.min(32767, Math.round((x / 9.80665) * 1000)));
  const m = new common.ScaledImu();
  m.timeBootMs = fc.nowMs() >>> 0;
  m.xacc = mg(a.x);
  m.yacc = mg(a.y);
  m.zacc = mg(a.z);
  m.xgyro = Math.round(w.x * 1000);
  m.ygyro = Math.round(w.y * 1000);
  m.zgyro = Math.round(w.z * 1000);
  m.xmag = m.ymag = m.zmag = 0;
  m.temperature = 0;
  fc.send(m);
}

/** The estimator's word on its estimate: ArduPilot's EKF_STATUS_REPORT (its "variances" are normalised
 *  innovation test ratios), PX4's ESTIMATOR_STATUS; flags and ratio from SimFlightController.estimatorStatus. */
export function sendEstimatorStatus(fc: SimFlightController): void {
  const e = fc.estimatorStatus();
  if (fc.family === 'px4') {
    const m = new common.EstimatorStatus();
    m.timeUsec = BigInt(Math.round(fc.nowMs())) * 1000n;
    m.flags = e.flags as common.EstimatorStatusFlags;
    m.velRatio = m.posVertRatio = m.magRatio = 0.05;
    m.posHorizRatio = e.posHorizRatio;
    m.haglRatio = m.tasRatio = 0;
    m.posHorizAccuracy = e.posHorizRatio < 1 ? 0.5 : 50;
    m.posVertAccuracy = 0.5;
    fc.send(m);
    return;
  }
  const m = new ardupilotmega.EkfStatusReport();
  m.flags = e.flags as ardupilotmega.EkfStatusFlags;
  m.velocityVariance = m.posVertVariance = m.compassVariance = 0.05;
  m.posHorizVariance = e.posHorizRatio;
  m.terrainAltVariance = 0;
  m.airspeedVariance = 0;
  fc.send(m);
}
