// End to end with real processes: four `murmur start` devices on a real Mosquitto, commanded with the
// real `murmurctl`. A survey commits and executes on all four simulated vehicles; a validator killed
// with SIGKILL mid-mission restarts, catches up and never signs conflicting votes; commits continue
// without the proposer; unknown keys and replays are refused with their reasons; bad config is one line.

import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '../../runtime/crypto/sodium.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest } from '../../runtime/manifest/manifest.js';
import { limits } from '../../runtime/lib/limits.js';
import { decodeFrame, encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { encodeAttestationBody } from '../../runtime/wire/attestation.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { parseVoteBody } from '../../runtime/wire/vote.js';
import { runCli } from '../support/run-cli.js';
import { DeviceFleet } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, timeScale: 20 });

/** Every vote each device signed, by (kind, height, round): two different values is equivocation. */
const signedVotes = new Map<string, Map<string, string>>();
const conflicts: string[] = [];
let watcher: mqtt.MqttClient | undefined;

function recordVote(payload: Buffer): void {
  const f = decodeFrame(new Uint8Array(payload), fleetTag('e2e'), limits.envelopeBytesMax);
  if (!f.ok) return;
  const e = decodeEnvelope(f.value.envelope);
  if (!e.ok || (e.value.kind !== 'prevote' && e.value.kind !== 'precommit')) return;
  const d = decodeCbor(e.value.body, 1024);
  if (!d.ok) return;
  const v = parseVoteBody(d.value);
  const key = `${e.value.kind}/${v.height}/${v.round}`;
  const value = v.blockHash ? toHex(v.blockHash) : 'nil';
  const mine = signedVotes.get(e.value.sender) ?? new Map<string, string>();
  signedVotes.set(e.value.sender, mine);
  const before = mine.get(key);
  if (before !== undefined && before !== value) conflicts.push(`${e.value.sender} ${key}: ${before} and ${value}`);
  mine.set(key, value);
}

beforeAll(async () => {
  await fleet.setup();
  // Refused after 10 s, or at once when the broker is not there (no reconnect): no wait without an end.
  watcher = await mqtt.connectAsync(fleet.broker.url, { clientId: 'e2e-vote-watcher', connectTimeout: 10_000, reconnectPeriod: 0 });
  watcher.on('message', (_t, p) => recordVote(p));
  await watcher.subscribeAsync('murmur/v1/e2e/consensus/+', { qos: 1 });
  const readyMs = await fleet.startAll();
  console.log(`devices ready after ${readyMs.join(', ')} ms`);
}, 60_000);

afterAll(async () => {
  await watcher?.endAsync(true);
  await fleet.teardown();
}, 30_000);

interface SendJson {
  outcome: string;
  reason: string;
  height: number | null;
  signers: string[];
  signedPower: number;
  assigned: string[];
  execution: Record<string, { stage: string }>;
}

const area = (m: number): string => `area=${JSON.stringify([[0, 0], [0, m], [m, m], [m, 0]])}`;

describe('four murmur processes on Mosquitto', () => {
  it('commits a survey sent with murmurctl send --wait executed and executes it on all four simulated vehicles', async () => {
    const r = await fleet.ctl(['send', 'mission.survey', '--arg', area(60), '--arg', 'spacingM=15', '--arg', 'altM=10', '--wait', 'executed', '--timeout', '45s', '--json'], 60_000);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as SendJson;
    expect(r.code, r.stdout).toBe(0);
    expect(out.outcome).toBe('accepted');
    expect(out.signedPower).toBeGreaterThanOrEqual(3);
    expect(out.assigned).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(Object.fromEntries(Object.entries(out.execution).map(([k, v]) => [k, v.stage]))).toEqual({ d1: 'done', d2: 'done', d3: 'done', d4: 'done' });
    // Every device committed that block itself, and runs the built-in agents beside the mission.
    for (const id of fleet.devices.keys()) {
      expect((await fleet.health(id)).height).toBeGreaterThanOrEqual(out.height as number);
      expect(fleet.devices.get(id)?.output).toMatch(/"agent":"mission-reflexes","kind":"started"/);
    }
    // A device answers from memory the precommits it sees again in the next block's certificate (about
    // three a height at n = 4) and, because its signer seeds the memo, its own votes and proposals as
    // they come back through its checks (two or more a height): over 4.5 a height only with both.
    const metrics = await (await fetch(`http://127.0.0.1:${fleet.devices.get('d1')?.httpPort}/metrics`)).text();
    const checks = (outcome: string): number => Number(new RegExp(`murmur_signature_checks\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? -1);
    const h1 = (await fleet.health('d1')).height;
    expect(checks('remembered'), metrics).toBeGreaterThan(4.5 * h1);
    expect(checks('verified')).toBeGreaterThan(h1 / 2);
  }, 70_000);

  it('a validator killed with SIGKILL mid-mission restarts, catches up, finishes its part and never signs conflicting votes', async () => {
    // Wait for the previous mission to be closed by committed telemetry before starting a new one.
    const tasksFrom = fleet.devices.get('d3')?.output.length ?? 0;
    const send = fleet.ctl(['send', 'mission.survey', '--arg', area(200), '--arg', 'spacingM=25', '--arg', 'altM=10', '--arg', 'replace=true', '--wait', 'executed', '--timeout', '60s', '--json'], 75_000);
    // Killed once it flies its part (its task line; 20 s at most), not after a fixed 1.5 s that a
    // loaded machine could spend before the survey is committed.
    const flying = (): boolean => (fleet.devices.get('d3')?.output ?? '').slice(tasksFrom).includes('"event":"task"');
    for (let i = 0; i < 200 && !flying(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(flying(), 'd3 took its part of the survey').toBe(true);
    await fleet.kill9('d3');
    const before = (await fleet.health('d1')).height;
    await new Promise((r) => setTimeout(r, 1_000));
    fleet.start('d3');
    await fleet.devices.get('d3')?.ready;
    const r = await send;
    const out = JSON.parse(r.stdout) as SendJson;
    expect(r.code, r.stdout).toBe(0);
    expect(out.execution.d3?.stage).toBe('done');
    const h3 = (await fleet.health('d3')).height;
    expect(h3).toBeGreaterThan(before);
    expect(fleet.devices.get('d3')?.output).toContain('"event":"ready"');
    expect(conflicts).toEqual([]);
    expect(signedVotes.get('d3')?.size ?? 0).toBeGreaterThan(10);
  }, 90_000);

  it('keeps committing after the proposer is killed', async () => {
    const h = await fleet.health('d1');
    const proposer = h.proposer;
    const sender = [...fleet.devices.keys()].find((x) => x !== proposer) as string;
    // Heights go on past the dead validator's turns to propose: those heights need a second round.
    const roundsOver1 = async (): Promise<number> => {
      const m = await (await fetch(`http://127.0.0.1:${fleet.devices.get(sender)?.httpPort}/metrics`)).text();
      const count = Number(/murmur_rounds_per_height_count (\d+)/.exec(m)?.[1] ?? 0);
      const firstRound = Number(/murmur_rounds_per_height_bucket\{le="1"\} (\d+)/.exec(m)?.[1] ?? 0);
      return count - firstRound;
    };
    const skippedBefore = await roundsOver1();
    await fleet.kill9(proposer);
    const before = (await fleet.health(sender)).height;
    const r = await fleet.ctl(['send', 'noop', '--wait', 'committed', '--timeout', '20s', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as SendJson;
    expect(out.height, `noop committed at ${out.height}, ${sender} was at ${before} after the kill`).toBeGreaterThan(before);
    expect(out.signers).not.toContain(proposer);
    const deadline = Date.now() + 20_000;
    while ((await roundsOver1()) === skippedBefore && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect(await roundsOver1(), 'heights that needed more than one round').toBeGreaterThan(skippedBefore);
    while ((await fleet.health(sender)).height <= (out.height as number) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect((await fleet.health(sender)).height).toBeGreaterThan(out.height as number);
    fleet.start(proposer);
    await fleet.devices.get(proposer)?.ready;
    expect(conflicts).toEqual([]);
  }, 60_000);

  it('refuses an unknown operator key, a replayed, a forged and an expired command, saying which and why', async () => {
    // Commands of their own (own nonces) go at once; the replay and the forgery share the saved
    // command's reference, whose refusals both would hear, so they go one after the other.
    const saved = join(fleet.dir, 'saved.cmd');
    // murmurctl refuses to sign with a key its manifest does not hold for an operator (exit 3, nothing
    // sent); the devices' own refusal is heard through a copy of the manifest that names the stranger
    // (signed by the fleet authority, as a forked copy would be): the devices go by theirs.
    const local = await fleet.ctl(['send', 'noop', '--key', fleet.keyFile('stranger'), '--timeout', '20s']);
    expect(local.code).toBe(3);
    expect(local.stderr).toContain(`key ${fleet.keyFile('stranger')} (id "stranger") is not in the manifest ${fleet.manifestFile} (fleet "e2e", epoch 1)`);
    const b = fleet.manifest.body;
    const forked = join(fleet.dir, 'stranger.manifest');
    writeFileSync(forked, unwrap(signManifest({ ...b, operators: [...b.operators, { id: 'stranger', publicKey: fleet.publicKey('stranger'), roles: ['operator'] }] }, createSigner(fleet.authority))).bytes);
    const [stranger, first] = await Promise.all([fleet.ctl(['send', 'noop', '--key', fleet.keyFile('stranger'), '--timeout', '20s'], 60_000, forked), fleet.ctl(['send', 'noop', '--save', saved, '--timeout', '20s'])]);
    expect(stranger.code).toBe(3);
    expect(stranger.stdout).toMatch(/^refused: unauthorized: sender "stranger" is not in the fleet manifest/);
    expect(first.code, first.stdout).toBe(0);
    const replay = await fleet.ctl(['send', '--raw', saved, '--timeout', '20s']);
    expect(replay.code).toBe(3);
    expect(replay.stdout).toMatch(/^refused: replayed: command ops\/[0-9a-f]{32} was already committed at height \d+/);
    // A flipped bit in the signature: murmurctl --raw refuses to publish it (exit 3); published on the
    // commands topic as it is (by the test), the devices name it forged.
    const forged = new Uint8Array(readFileSync(saved));
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    writeFileSync(join(fleet.dir, 'forged.cmd'), forged);
    const [f, expired] = await Promise.all([fleet.ctl(['send', '--raw', join(fleet.dir, 'forged.cmd'), '--timeout', '20s']), fleet.ctl(['send', 'noop', '--ttl', '1ms', '--timeout', '20s'])]);
    expect(f.code).toBe(3);
    expect(f.stderr).toContain(`its signature does not verify against ops's key in the manifest ${fleet.manifestFile}`);
    await watcher?.publishAsync(fleetTopics('e2e').commands, Buffer.from(encodeFrame(fleetTag('e2e'), 'consensus', forged)), { qos: 1 });
    // In the devices' logs a forgery is a warning; a resend of a committed command (what an operator's
    // outbox does after every outage, on every device) is not. murmurctl hears the first device to
    // refuse; the others' lines may come a moment later (bounded wait). A device that had not applied
    // the first command's block when the resend came (d1 at times: killed and restarted above) passes it
    // on to consensus, which drops the duplicate, and logs no refusal: the replayed line is read on the
    // devices that logged one.
    const refusalsOf = (): string[] => [...fleet.devices.values()].flatMap((d) => d.output.split('\n')).filter((l) => l.includes('"event":"command-refused"'));
    for (let i = 0; i < 50 && !(['forged', 'replayed'] as const).every((k) => refusalsOf().some((l) => l.includes(`"kind":"${k}"`))); i++) await new Promise((r) => setTimeout(r, 100));
    const refusals = refusalsOf();
    const levelsOf = (kind: string): string[] => refusals.filter((l) => l.includes(`"kind":"${kind}"`)).map((l) => /"level":(\d+)/.exec(l)?.[1] ?? 'none');
    expect(levelsOf('forged').length, refusals.join('\n')).toBeGreaterThan(0);
    expect(new Set(levelsOf('forged')), refusals.join('\n')).toEqual(new Set(['40']));
    expect(levelsOf('replayed').length, refusals.join('\n')).toBeGreaterThan(0);
    expect(new Set(levelsOf('replayed')), refusals.join('\n')).toEqual(new Set(['30']));
    // Signed right, but published without its link frame (a client of one's own): refused with why, on
    // every device's log and to its operator; it was lost without a word (the link drops it as a bad frame).
    const bare = sealEnvelope('command', 'e2e', 'ops', encodeCommandBody({ type: 'noop', nonce: new Uint8Array(randomBytes(16)), issuedAt: Date.now(), expiresAt: Date.now() + 60_000, args: {} }), fleet.signer('ops'));
    await watcher?.publishAsync(fleetTopics('e2e').commands, Buffer.from(bare), { qos: 1 });
    const unframed = (): string[] => refusalsOf().filter((l) => l.includes('"kind":"invalid"') && l.includes('the command came without its link frame'));
    for (let i = 0; i < 50 && unframed().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(unframed().length, refusalsOf().join('\n')).toBeGreaterThan(0);
    expect(expired.code).toBe(3);
    expect(expired.stdout).toMatch(/^refused: expired: the command expired at /);
    const log = await fleet.ctl(['log', '--json']);
    const decisions = JSON.parse(log.stdout) as { type: string; outcome: string }[];
    expect(decisions.filter((d) => d.type === 'noop' && d.outcome === 'accepted').length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('holds, resumes and aborts a running mission, each acknowledged by every device flying it; the survey\'s own wait ends aborted; status shows all four', async () => {
    // Large enough that the drones cannot finish it while murmurctl starts three times on a loaded machine.
    // Its own wait (--wait executed) goes on meanwhile: before, no device ever said its part ended, and it
    // timed out (exit 4) long after the abort.
    const tasksFrom = fleet.devices.get('d1')?.output.length ?? 0;
    const surveyWait = fleet.ctl(['send', 'mission.survey', '--arg', area(400), '--arg', 'spacingM=25', '--arg', 'altM=10', '--arg', 'replace=true', '--wait', 'executed', '--timeout', '60s', '--json'], 75_000);
    const tasked = (): boolean => (fleet.devices.get('d1')?.output ?? '').slice(tasksFrom).includes('"event":"task"');
    for (let i = 0; i < 200 && !tasked(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(tasked(), 'the survey committed and d1 tasked').toBe(true);
    const acked: string[][] = [];
    for (const verb of ['hold', 'resume', 'abort']) {
      const r = await fleet.ctl(['send', verb, '--wait', 'executed', '--timeout', '20s', '--json']);
      expect(r.code, `${verb}: ${r.stdout}`).toBe(0);
      const out = JSON.parse(r.stdout) as SendJson;
      expect(out.outcome).toBe('accepted');
      acked.push(out.assigned);
      expect(Object.values(out.execution).map((e) => e.stage)).toEqual(out.assigned.map(() => 'done'));
    }
    const survey = await surveyWait;
    // Drones whose battery the earlier missions drained below the reserve are left out by the allocator.
    const surveyed = JSON.parse(survey.stdout) as SendJson & { execution: Record<string, { stage: string; reason: string; saidBy?: string[] }> };
    const flying = surveyed.assigned;
    expect(flying.length, survey.stdout).toBeGreaterThan(0);
    expect(acked).toEqual([flying, flying, flying]);
    // Each part ended by the abort, said by f + 1 validators at least: exit 1 (failed during execution).
    expect(survey.code, survey.stdout).toBe(1);
    for (const n of flying) {
      expect(surveyed.execution[n], `${n}: ${survey.stdout}`).toMatchObject({ stage: 'ended', reason: expect.stringMatching(/^aborted by abort ops\/[0-9a-f]{32} at height \d+$/) });
      expect(surveyed.execution[n]?.saidBy?.length).toBeGreaterThanOrEqual(2);
    }
    const again = await fleet.ctl(['send', 'resume', '--timeout', '20s']);
    expect(again.code).toBe(3);
    expect(again.stdout).toContain('rejected: no mission is held, so there is nothing to resume');
    const status = await fleet.ctl(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const rows = JSON.parse(status.stdout) as { node: string; liveness: string; status: { height: number } | null }[];
    expect(rows.map((r) => r.node)).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(rows.every((r) => r.liveness === 'alive' && (r.status?.height ?? 0) > 0)).toBe(true);
  }, 90_000);

  it('hazards attested by f+1 devices are committed on every device and the running survey re-plans around them', async () => {
    const survey = await fleet.ctl(['send', 'mission.survey', '--arg', area(400), '--arg', 'spacingM=25', '--arg', 'altM=10', '--arg', 'replace=true', '--wait', 'committed', '--timeout', '20s', '--json']);
    expect(survey.code, survey.stdout).toBe(0);
    const basis = (await fleet.health('d1')).height;
    // A 4 x 4 block of 5 m cells around (55 m, 55 m), inside the surveyed square: d1 and d2 (f + 1 = 2)
    // attest each cell, their envelopes gossiped as their own agents' are (telemetry class, own topic).
    const client = await mqtt.connectAsync(fleet.broker.url, { clientId: 'e2e-hazard-attester' });
    try {
      for (const id of ['d1', 'd2']) {
        const signer = fleet.signer(id);
        for (let n = 9; n <= 12; n++) {
          for (let e = 9; e <= 12; e++) {
            const body = encodeAttestationBody({ agent: 'hazard-detect', observedAt: Date.now(), basis, obs: { type: 'hazard', cell: [n, e], present: true, confidencePerMille: 950 } });
            const envelope = sealEnvelope('attestation', 'e2e', id, body, signer);
            await client.publishAsync(fleetTopics('e2e').telemetry(id), Buffer.from(encodeFrame(fleetTag('e2e'), 'telemetry', envelope)), { qos: 1 });
          }
        }
      }
    } finally {
      await client.endAsync();
    }
    const deadline = Date.now() + 30_000;
    const all = (what: string): boolean => [...fleet.devices.values()].every((d) => d.output.includes(what));
    while (Date.now() < deadline && !(all('"event":"hazard-committed"') && all('"event":"replan"'))) await new Promise((r) => setTimeout(r, 250));
    for (const d of fleet.devices.values()) {
      expect(d.output, d.id).toContain('"event":"hazard-committed"');
      expect(d.output, d.id).toMatch(/"event":"replan".*"keepOuts":1/);
    }
    const abort = await fleet.ctl(['send', 'abort', '--wait', 'committed', '--timeout', '20s']);
    expect(abort.code, abort.stdout).toBe(0);
  }, 90_000);

  /** The operator's manifest copy in force: the fleet's, until the fleet.update below commits epoch 2
   *  (murmurctl refuses to call a commit verified against a copy the fleet has moved past). */
  let manifestInForce = fleet.manifestFile;

  it('fleet.update from an admin commits a new manifest; consensus applies it and its new operator can command', async () => {
    // Not in the operator's manifest copy (epoch 1): refused before signing, naming the copy's epoch.
    const before = await fleet.ctl(['send', 'noop', '--key', fleet.keyFile('ops2'), '--timeout', '20s']);
    expect(before.code).toBe(3);
    expect(before.stderr).toContain(`(id "ops2") is not in the manifest ${fleet.manifestFile} (fleet "e2e", epoch 1)`);
    const b = fleet.manifest.body;
    const next = unwrap(signManifest({ ...b, epoch: 2, operators: [...b.operators, { id: 'ops2', publicKey: fleet.publicKey('ops2'), roles: ['operator'] }] }, createSigner(fleet.authority)));
    const file = join(fleet.dir, 'epoch2.manifest');
    writeFileSync(file, next.bytes);
    const byOperator = await fleet.ctl(['send', 'fleet.update', '--arg', `manifest=@${file}`, '--timeout', '20s']);
    expect(byOperator.stdout).toContain('rejected: operator "ops" has role operator; fleet.update needs admin');
    const update = await fleet.ctl(['send', 'fleet.update', '--arg', `manifest=@${file}`, '--key', fleet.keyFile('boss'), '--timeout', '20s', '--json']);
    expect(update.code, update.stdout).toBe(0);
    // The manifest takes effect two heights after the block that commits it; give consensus a moment.
    // ops2 commands with the new manifest (its copy names ops2).
    let after = await fleet.ctl(['send', 'noop', '--key', fleet.keyFile('ops2'), '--timeout', '10s', '--json'], 60_000, file);
    for (let i = 0; i < 10 && after.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = await fleet.ctl(['send', 'noop', '--key', fleet.keyFile('ops2'), '--timeout', '10s', '--json'], 60_000, file);
    }
    expect(after.code, after.stdout).toBe(0);
    expect((JSON.parse(after.stdout) as SendJson).outcome).toBe('accepted');
    manifestInForce = file;
  }, 90_000);

  it('a command published while no device is on the broker (it just restarted) goes out again and commits', async () => {
    // The devices are frozen (SIGSTOP) while Mosquitto restarts, so none is subscribed when murmurctl
    // publishes: that first copy reaches no one. They resume once the copy has passed the broker.
    const ids = [...fleet.devices.keys()].filter((id) => fleet.devices.get(id)?.proc.exitCode === null);
    for (const id of ids) process.kill(fleet.pid(id) as number, 'SIGSTOP');
    let spy: mqtt.MqttClient | undefined;
    try {
      await fleet.broker.kill();
      await fleet.broker.run();
      spy = await mqtt.connectAsync(fleet.broker.url, { clientId: 'e2e-command-spy' });
      const seen = new Promise<void>((r) => spy?.once('message', () => r()));
      await spy.subscribeAsync('murmur/v1/e2e/commands', { qos: 1 });
      const send = fleet.ctl(['send', 'noop', '--wait', 'committed', '--timeout', '40s'], 60_000, manifestInForce);
      await Promise.race([seen, new Promise((r) => setTimeout(r, 20_000))]);
      for (const id of ids) process.kill(fleet.pid(id) as number, 'SIGCONT');
      const r = await send;
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stderr).toMatch(/too few devices have answered yet: publishing ops\/[0-9a-f]{32} again/);
      expect(r.stdout).toMatch(/^committed noop/);
    } finally {
      for (const id of ids) if (fleet.devices.get(id)?.proc.exitCode === null) process.kill(fleet.pid(id) as number, 'SIGCONT');
      await spy?.endAsync(true);
    }
  }, 90_000);

  // The three refusals of a second `murmur start` below run at once (it.concurrent): each is a process
  // of its own that exits at its check, on files of its own.
  it.concurrent('a bad config file is refused in one line naming the field and the fix', async ({ expect }) => {
    const bad = join(fleet.dir, 'bad.yaml');
    writeFileSync(bad, 'id: d1\nkey: keys/d1.key\nmanifest: fleet.manifest\ndataDir: data/bad\nmqtt: { url: "http://nowhere" }\n');
    const r = await runCli('murmur', ['start', '--config', bad], { cwd: fleet.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('mqtt.url: "http://nowhere": its scheme is http, not mqtt, mqtts, ws or wss; use a broker URL like mqtt://127.0.0.1:1883');
  }, 30_000);

  it.concurrent('a data directory in a data format newer than this release reads is refused in one line; a running device records its own', async ({ expect }) => {
    expect(readFileSync(join(fleet.dataDir('d1'), 'data-format'), 'utf8')).toBe('1\n');
    const dir = join(fleet.dir, 'data', 'newer');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'data-format'), '2\n');
    const cfg = join(fleet.dir, 'newer.yaml');
    writeFileSync(cfg, 'id: d1\nkey: keys/d1.key\nmanifest: fleet.manifest\ndataDir: data/newer\nmqtt: { url: "mqtt://127.0.0.1:1" }\n');
    const r = await runCli('murmur', ['start', '--config', cfg], { cwd: fleet.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`dataDir: ${dir} holds data format 2, written by a newer release; this release reads formats up to 1: install a release that reads format 2`);
  }, 30_000);

  it.concurrent('a second murmur start on a running device\'s data directory is refused in one line naming the holder, and the running device is untouched', async ({ expect }) => {
    const before = await fleet.health('d2');
    const r = await runCli('murmur', ['start', '--config', join(fleet.dir, 'd2.yaml')], { cwd: fleet.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`dataDir: ${realpathSync(fleet.dataDir('d2'))} is in use by another murmur process (pid ${fleet.pid('d2')}); stop it first: two processes on one signer state could sign twice`);
    const after = await fleet.health('d2');
    expect(after.height).toBeGreaterThanOrEqual(before.height);
  }, 30_000);

  it('stops cleanly on SIGTERM, leaving its last status retained as offline', async () => {
    expect(await fleet.stop('d4')).toBe(0);
    expect(fleet.devices.get('d4')?.output).toContain('"event":"stopped"');
    const last = (await fleet.retainedStatus('d4')) as unknown as { state: string; height: number };
    expect(last.state).toBe('offline');
    expect(last.height).toBeGreaterThan(1); // what it last knew, not the bare Will
  }, 20_000);
});
