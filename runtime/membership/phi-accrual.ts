// The phi-accrual failure detector (Hayashibara et al. 2004, as in Akka and Cassandra) for one peer.
// Time is an input (no clock inside) so fleet-sim drives it on virtual time and a device on its own.
//
// Two suspicion levels come out of the same history:
// - phi(): Akka's formula. "How late is the next heartbeat?" Fast, but a burst of lost heartbeats
//   looks exactly like a crash, so it is used for `suspect` (a hint that recovers on the next beat).
// - silencePhi(): "How unlikely is this much silence, given the loss rate the sequence numbers show?"
//   Each expected heartbeat that has not come is either lost (probability p) or late; phi is
//   -log10 of the product. Used for `dead`, so a loss burst does not evict a live peer.

import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';

export interface PhiConfig {
  /** phi at or above this marks the peer suspect (Akka cluster and Cassandra: 8). */
  readonly threshold: number;
  /** silencePhi at or above this marks a suspect peer dead. */
  readonly deadThreshold: number;
  /** Floor on the standard deviation so a very regular peer is not convicted by tiny delays (Akka: 100 ms). */
  readonly minStdDevMs: number;
  /** Silence tolerated on top of the mean interval before phi rises (Akka cluster: 3 s). */
  readonly acceptablePauseMs: number;
  /** Inter-arrival samples kept (Akka: 1000); oldest dropped. */
  readonly maxSamples: number;
  /** The interval assumed before any sample exists (Akka: first-heartbeat-estimate 1 s). */
  readonly expectedIntervalMs: number;
}

/** Akka cluster defaults (edge-anchors.md §4): 1 s interval, threshold 8, 100 ms, 3 s pause. */
export const akkaClusterDefaults: PhiConfig = {
  threshold: 8,
  deadThreshold: 8,
  minStdDevMs: 100,
  acceptablePauseMs: 3_000,
  maxSamples: limits.phiSamplesMax,
  expectedIntervalMs: 1_000,
};

/** edge-anchors.md §4 recommendation for SiK peers: 2 s interval, threshold 10, 6 s pause. */
export const sikDefaults: PhiConfig = { ...akkaClusterDefaults, threshold: 10, deadThreshold: 10, acceptablePauseMs: 6_000, expectedIntervalMs: 2_000, maxSamples: 200 };

export function checkPhiConfig(c: PhiConfig): string | undefined {
  if (!(c.threshold > 0)) return `phi threshold must be positive, is ${c.threshold}`;
  if (!(c.deadThreshold > 0)) return `phi deadThreshold must be positive, is ${c.deadThreshold}`;
  if (!(c.minStdDevMs > 0)) return `phi minStdDevMs must be positive, is ${c.minStdDevMs}`;
  if (!(c.acceptablePauseMs >= 0)) return `phi acceptablePauseMs must be zero or more, is ${c.acceptablePauseMs}`;
  if (!(c.expectedIntervalMs > 0)) return `phi expectedIntervalMs must be positive, is ${c.expectedIntervalMs}`;
  if (!Number.isInteger(c.maxSamples) || c.maxSamples < 2 || c.maxSamples > limits.phiSamplesMax) return `phi maxSamples must be in 2..${limits.phiSamplesMax}`;
  return undefined;
}

/** P(X > x) for a normal variable, by the logistic approximation Akka uses (error < 1e-4). */
function tailProbability(x: number, mean: number, stdDev: number): number {
  const y = (x - mean) / stdDev;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  return x > mean ? e / (1 + e) : 1 - 1 / (1 + e);
}

const phiMax = 1_000; // -log10 of a probability that underflowed to 0

function toPhi(p: number): number {
  return p <= 0 ? phiMax : Math.min(phiMax, -Math.log10(p));
}

export class PhiAccrualDetector {
  private readonly samples: number[] = [];
  private next = 0; // ring index once full
  private sum = 0;
  private sumSquares = 0;
  private lastArrivalMs: number | undefined;
  private lastSeq: number | undefined;
  /** Heartbeats the sequence numbers say were sent and heartbeats that arrived (for the loss rate). */
  private expected = 0;
  private arrived = 0;
  /** The next heartbeat's gap and sequence step span a time this node could not hear (resume): no sample. */
  private resumed = false;
  /** Silence counts only from here (resume's grace: the peer too may still be on its way back). */
  private judgedFromMs = -Infinity;

  constructor(readonly config: PhiConfig) {
    const bad = checkPhiConfig(config);
    assert(bad === undefined, bad ?? '');
  }

  /**
   * Records a heartbeat arriving at `nowMs`. With `seq`, a gap of k sequence numbers is one interval
   * of gap/k (losses do not widen the distribution) and k - 1 losses for the loss rate.
   */
  heartbeat(nowMs: number, seq?: number): void {
    let steps = 1;
    if (seq !== undefined && this.lastSeq !== undefined) {
      if (seq <= this.lastSeq) return; // duplicate or replay: not a sign of life
      steps = Math.min(seq - this.lastSeq, 1_000);
    }
    this.judgedFromMs = -Infinity;
    if (this.resumed) this.resumed = false;
    else if (this.lastArrivalMs !== undefined) {
      const gap = Math.max(0, nowMs - this.lastArrivalMs);
      this.addSample(gap / steps);
      this.expected += steps;
      this.arrived += 1;
      // Keep the loss estimate recent: halve both counts so old bursts fade.
      if (this.expected > 2 * this.config.maxSamples) {
        this.expected /= 2;
        this.arrived /= 2;
      }
    }
    this.lastArrivalMs = nowMs;
    if (seq !== undefined) this.lastSeq = seq;
  }

  /** Forget timing (a peer that restarted); the samples stay, they describe the link. */
  resetArrival(): void {
    this.lastArrivalMs = undefined;
    this.lastSeq = undefined;
  }

  /**
   * This node could not hear the peer until `nowMs` (its own link was down: the broker was gone). The
   * silence since the last heartbeat says nothing about the peer, so it is judged from now, as if a
   * heartbeat had just come, or from `graceMs` later: the peer lost the same broker and may reconnect
   * that much after this node did. The next heartbeat's gap and sequence step span the outage and
   * become neither an interval sample nor losses. The samples stay, they describe the link.
   */
  resume(nowMs: number, graceMs = 0): void {
    if (this.lastArrivalMs === undefined) return;
    this.lastArrivalMs = Math.max(this.lastArrivalMs, nowMs);
    this.judgedFromMs = nowMs + graceMs;
    this.resumed = true;
  }

  /** Time since the last heartbeat, or since the end of a resume's grace; never negative. */
  private silentMs(nowMs: number, lastArrivalMs: number): number {
    return Math.max(0, nowMs - Math.max(lastArrivalMs, this.judgedFromMs));
  }

  lastHeardMs(): number | undefined {
    return this.lastArrivalMs;
  }

  meanMs(): number {
    return this.samples.length === 0 ? this.config.expectedIntervalMs : this.sum / this.samples.length;
  }

  stdDevMs(): number {
    if (this.samples.length === 0) return Math.max(this.config.minStdDevMs, this.config.expectedIntervalMs / 4);
    const mean = this.meanMs();
    const variance = Math.max(0, this.sumSquares / this.samples.length - mean * mean);
    return Math.max(this.config.minStdDevMs, Math.sqrt(variance));
  }

  /** Laplace-smoothed fraction of heartbeats lost, from sequence gaps. */
  lossRate(): number {
    return (this.expected - this.arrived + 1) / (this.expected + 2);
  }

  /** Akka's phi: suspicion that the next heartbeat is overdue. 0 before the first heartbeat. */
  phi(nowMs: number): number {
    if (this.lastArrivalMs === undefined) return 0;
    const elapsed = this.silentMs(nowMs, this.lastArrivalMs);
    return toPhi(tailProbability(elapsed, this.meanMs() + this.config.acceptablePauseMs, this.stdDevMs()));
  }

  /** Suspicion that the peer is gone rather than its heartbeats lost (see the file comment). */
  silencePhi(nowMs: number): number {
    if (this.lastArrivalMs === undefined) return 0;
    const elapsed = this.silentMs(nowMs, this.lastArrivalMs);
    const mean = this.meanMs();
    const sd = this.stdDevMs();
    const p = Math.max(this.lossRate(), 1e-6);
    let logP = 0;
    // Heartbeats j = 1.. expected by now; later ones contribute log10(1) = 0. Bounded by the count.
    const jMax = Math.min(10_000, Math.ceil((elapsed + 6 * sd) / mean));
    // Every term is at most log10(1) = 0, so once the sum passes -phiMax the answer is phiMax: stopping
    // there keeps a peer silent for hours at a few hundred terms instead of 10,000 per call.
    for (let j = 1; j <= jMax && -logP < phiMax; j++) {
      const notYet = p + (1 - p) * tailProbability(elapsed, j * mean + this.config.acceptablePauseMs, sd);
      logP += Math.log10(Math.max(notYet, 1e-300));
    }
    return Math.min(phiMax, -logP);
  }

  private addSample(intervalMs: number): void {
    if (this.samples.length < this.config.maxSamples) {
      this.samples.push(intervalMs);
    } else {
      const old = this.samples[this.next] as number;
      this.sum -= old;
      this.sumSquares -= old * old;
      this.samples[this.next] = intervalMs;
      this.next = (this.next + 1) % this.config.maxSamples;
    }
    this.sum += intervalMs;
    this.sumSquares += intervalMs * intervalMs;
  }
}
