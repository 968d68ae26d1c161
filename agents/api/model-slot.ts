// One agent's model: loads the version the committed rollout assigns to this device, only if the
// file's hash matches the committed one, and swaps engines when the assignment changes. A refused
// model leaves the previous verified model (or the rules) running, and the refusal is kept for status;
// the load is tried again every `retryMs` (an operator may install the right file later). A model that
// loads but fails in use is refused too, for as long as it stays assigned: non-finite outputs run
// after run, or, just after a switch to it, runs over the agent's budget.

import { join } from 'node:path';
import type { ModelRef } from '../../runtime/wire/attestation.js';
import { fromHex } from '../../runtime/lib/bytes.js';
import { err } from '../../runtime/lib/result.js';
import { loadInference, type EngineKind, type Inference, type InferenceOptions } from '../inference/engine.js';
import type { OrtWorker } from '../inference/ort-worker.js';
import { isPlainModelVersion, loadModelFrom, loadVerifiedModel, shippedModelsDir, type CommittedModel } from '../models/registry.js';

export interface ModelSlotOptions {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly rules: (features: Float32Array) => Float32Array;
  readonly ort?: OrtWorker;
  /** The pure-TypeScript worker (a device); omitted, pure-ts runs on this thread (the simulators). */
  readonly tsWorker?: OrtWorker;
  readonly prefer?: readonly EngineKind[];
  /** The agent's CPU budget a tick, ms (see engine.ts budgetMs). */
  readonly budgetMs?: number;
  /** Typical feature rows, probed at load (see engine.ts probeRows). */
  readonly probeRows?: readonly Float32Array[];
  /** The directory holding a committed version's model.onnx and metadata.json (see committedModelDir). */
  readonly modelDirFor?: (ref: CommittedModel) => string;
  /** Directory holding `<name>/` as shipped; defaults to agents/models. */
  readonly shippedDir?: string;
  /** Loads a model into an engine (default loadInference; tests script one). */
  readonly load?: (o: InferenceOptions) => Promise<Inference>;
}

/** How long a refused committed model waits before its file is read and checked again (node-clock ms). */
export const modelRetryMs = 5_000;
/** Runs in a row with a non-finite output (each no decision) after which the model is refused. */
export const nonFiniteRunsToRefuse = 3;
/** Runs in a row over the agent's budget, in the engine's worker, after which a model just switched
 *  to is refused: fewer than the scheduler's overrunsToRestart (3), so the agent goes back to the model
 *  before it instead of restart-looping with backoff, its hazard detection off meanwhile. */
export const slowRunsToRefuse = 2;
/** Runs after a switch during which a model's runs over budget refuse it; later ones are the
 *  scheduler's (a busy moment is no reason to drop a model that ran well). */
export const trialRuns = 50;

const keyOf = (committed: CommittedModel | null | undefined): string => (committed ? `${committed.version}:${committed.hashHex}` : 'shipped');

export class ModelSlot {
  private inference: Inference | undefined;
  private ref: ModelRef | undefined;
  private key = '';
  private refusal: string | null = null;
  private triedAtMs = 0;
  /** The assignment the running model was loaded for (null: shipped), and the one that ran before a
   *  switch to it (undefined: none, the rules), to go back to if it fails in use. */
  private loaded: CommittedModel | null | undefined;
  private fallback: CommittedModel | null | undefined;
  /** The assignment refused in use (its key), why, and what runs instead (the assignment before it):
   *  it is not loaded again while it stays assigned. */
  private rejected: { readonly key: string; readonly reason: string; readonly instead: CommittedModel | null | 'rules' } | null = null;
  private runsSinceSwitch = 0;
  private nonFiniteInRow = 0;
  private slowInRow = 0;
  /** Runs whose outputs were not all finite (no decision), since the agent was created. */
  private nonFiniteRuns = 0;

  constructor(private readonly o: ModelSlotOptions) {}

  /**
   * Loads the shipped model (no rollout yet) or the committed one; a no-op when unchanged, except that a
   * refused committed model is checked again once `modelRetryMs` has passed since the last try.
   */
  async ensure(committed: CommittedModel | null | undefined, nowMs: number): Promise<void> {
    const key = keyOf(committed);
    if (this.rejected !== null && this.rejected.key !== key) {
      // A new assignment is judged afresh.
      if (this.refusal === this.rejected.reason) this.refusal = null;
      this.rejected = null;
    }
    if (this.rejected !== null) {
      // Refused in use: what ran before it runs (loaded again after a restart released it).
      if (!this.inference) await this.runInstead(this.rejected.instead, nowMs);
      this.refusal = this.rejected.reason;
      return;
    }
    // (nowMs before the last try: the node clock stepped back, and waiting for it to catch up could take hours.)
    if (key === this.key && this.inference && (this.refusal === null || (nowMs - this.triedAtMs < modelRetryMs && nowMs >= this.triedAtMs))) return;
    await this.load(committed, nowMs);
  }

  private async load(committed: CommittedModel | null | undefined, nowMs: number): Promise<void> {
    const key = keyOf(committed);
    this.key = key;
    this.triedAtMs = nowMs;
    // A device whose only engine is the rules runs no model: nothing to read, check or refuse.
    if ((this.o.prefer ?? ['onnxruntime']).every((k) => k === 'rules')) {
      this.refusal = null;
      this.inference ??= await (this.o.load ?? loadInference)({ ...this.base(), modelBytes: undefined });
      return;
    }
    const shipped = this.o.shippedDir ?? shippedModelsDir;
    const v = committed && !isPlainModelVersion(committed.version)
      ? err(`model ${this.o.name} refused: the committed version ${JSON.stringify(committed.version)} is not a plain version name (letters, digits, . _ + -)`)
      : committed ? loadModelFrom(this.o.modelDirFor?.(committed) ?? join(shipped, this.o.name), this.o.name, committed) : loadVerifiedModel(shipped, this.o.name);
    if (!v.ok) {
      this.refusal = v.error;
      if (!this.inference) this.inference = await (this.o.load ?? loadInference)({ ...this.base(), modelBytes: undefined });
      return;
    }
    const next = await (this.o.load ?? loadInference)({ ...this.base(), modelBytes: v.value.bytes });
    // The hash proves which file this is, not that it runs here: a file that no engine can run
    // (truncated, corrupt, the wrong shape) is refused like a bad hash, and what ran before keeps running.
    if (next.engine === 'rules' && (this.o.prefer ?? ['onnxruntime']).some((k) => k !== 'rules')) {
      this.refusal = `model ${this.o.name} ${v.value.meta.version} refused: no engine here can run it (${next.reasons.join('; ')})`;
      if (this.inference) {
        await next.release();
        return;
      }
    } else this.refusal = null;
    await this.inference?.release();
    this.inference = next;
    this.ref = next.engine === 'rules' ? undefined : { name: v.value.meta.name, version: v.value.meta.version, hash: fromHex(v.value.meta.hash.hex) as Uint8Array };
    if (next.engine !== 'rules' && (this.loaded === undefined || keyOf(this.loaded) !== key)) {
      // A switch: the model on trial, and what ran before it to go back to.
      this.fallback = this.loaded;
      this.loaded = committed ?? null;
      this.runsSinceSwitch = 0;
      this.slowInRow = 0;
      this.nonFiniteInRow = 0;
    }
  }

  /**
   * The running model failed in use (`why`): refused for as long as it stays assigned, and the one
   * that ran before it loaded again (the shipped model if none did; the rules if the shipped model is
   * the one refused).
   */
  private async refuseInUse(why: string): Promise<void> {
    const ref = this.ref;
    if (!ref || this.loaded === undefined) return;
    const instead = this.fallback !== undefined ? this.fallback : this.loaded === null ? 'rules' : null;
    this.rejected = { key: keyOf(this.loaded), reason: `model ${this.o.name} ${ref.version} refused: ${why}`, instead };
    await this.inference?.release();
    this.inference = undefined;
    this.ref = undefined;
    this.loaded = undefined;
    await this.runInstead(instead, this.triedAtMs);
    this.fallback = undefined; // nothing older to go back to
    this.refusal = this.rejected.reason;
  }

  private async runInstead(instead: CommittedModel | null | 'rules', nowMs: number): Promise<void> {
    if (instead !== 'rules') return this.load(instead, nowMs);
    this.inference = await (this.o.load ?? loadInference)({ ...this.base(), modelBytes: undefined });
    this.ref = undefined;
  }

  private base(): Omit<InferenceOptions, 'modelBytes'> {
    const { inputSize, outputSize, rules, ort, tsWorker, prefer, budgetMs, probeRows } = this.o;
    return { inputSize, outputSize, rules, ...(ort ? { ort } : {}), ...(tsWorker ? { tsWorker } : {}), ...(prefer ? { prefer } : {}), ...(budgetMs !== undefined ? { budgetMs } : {}), ...(probeRows ? { probeRows } : {}) };
  }

  /**
   * One feature row's outputs, or null when the model gave a non-finite one: no decision (NaN compares
   * false with every threshold, so a NaN model ran 'ok' and never attested or denied anything).
   */
  async run(features: Float32Array): Promise<Float32Array | null> {
    if (!this.inference) await this.ensure(undefined, this.triedAtMs);
    const inference = this.inference as Inference;
    const out = await inference.run(features, 1);
    this.runsSinceSwitch++;
    if (!out.every(Number.isFinite)) {
      this.nonFiniteRuns++;
      this.nonFiniteInRow++;
      if (this.nonFiniteInRow >= nonFiniteRunsToRefuse) await this.refuseInUse(`${this.nonFiniteInRow} runs in a row gave non-finite outputs (NaN or infinite)`);
      return null;
    }
    this.nonFiniteInRow = 0;
    const ms = inference.lastRunMs();
    const budget = this.o.budgetMs;
    if (ms !== null && budget !== undefined && this.fallback !== undefined && this.runsSinceSwitch <= trialRuns) {
      this.slowInRow = ms > budget ? this.slowInRow + 1 : 0;
      if (this.slowInRow >= slowRunsToRefuse) await this.refuseInUse(`over budget: ${this.slowInRow} runs in a row just after the switch to it took longer than the agent's ${budget} ms a tick (the last ${ms.toFixed(1)} ms)`);
    }
    return out;
  }

  engine(): EngineKind {
    return this.inference?.engine ?? 'rules';
  }

  model(): ModelRef | undefined {
    return this.ref;
  }

  /** Why the committed model was refused, or null. */
  refused(): string | null {
    return this.refusal;
  }

  reasons(): readonly string[] {
    const reasons = this.inference?.reasons ?? [];
    return this.nonFiniteRuns === 0 ? reasons : [...reasons, `${this.nonFiniteRuns} run${this.nonFiniteRuns === 1 ? '' : 's'} gave non-finite outputs: no decision`];
  }

  async release(): Promise<void> {
    await this.inference?.release();
    this.inference = undefined;
    this.key = '';
  }
}
