// One agent's model: loads the version the committed rollout assigns to this device, only if the
// file's hash matches the committed one, and swaps engines when the assignment changes. A refused
// model leaves the previous verified model (or the rules) running, and the refusal is kept for status;
// the load is tried again every `retryMs` (an operator may install the right file later).

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
}

/** How long a refused committed model waits before its file is read and checked again (node-clock ms). */
export const modelRetryMs = 5_000;

export class ModelSlot {
  private inference: Inference | undefined;
  private ref: ModelRef | undefined;
  private key = '';
  private refusal: string | null = null;
  private triedAtMs = 0;

  constructor(private readonly o: ModelSlotOptions) {}

  /**
   * Loads the shipped model (no rollout yet) or the committed one; a no-op when unchanged, except that a
   * refused committed model is checked again once `modelRetryMs` has passed since the last try.
   */
  async ensure(committed: CommittedModel | null | undefined, nowMs: number): Promise<void> {
    const key = committed ? `${committed.version}:${committed.hashHex}` : 'shipped';
    // (nowMs before the last try: the node clock stepped back, and waiting for it to catch up could take hours.)
    if (key === this.key && this.inference && (this.refusal === null || (nowMs - this.triedAtMs < modelRetryMs && nowMs >= this.triedAtMs))) return;
    this.key = key;
    this.triedAtMs = nowMs;
    // A device whose only engine is the rules runs no model: nothing to read, check or refuse.
    if ((this.o.prefer ?? ['onnxruntime']).every((k) => k === 'rules')) {
      this.refusal = null;
      this.inference ??= await loadInference({ ...this.base(), modelBytes: undefined });
      return;
    }
    const shipped = this.o.shippedDir ?? shippedModelsDir;
    const v = committed && !isPlainModelVersion(committed.version)
      ? err(`model ${this.o.name} refused: the committed version ${JSON.stringify(committed.version)} is not a plain version name (letters, digits, . _ + -)`)
      : committed ? loadModelFrom(this.o.modelDirFor?.(committed) ?? join(shipped, this.o.name), this.o.name, committed) : loadVerifiedModel(shipped, this.o.name);
    if (!v.ok) {
      this.refusal = v.error;
      if (!this.inference) this.inference = await loadInference({ ...this.base(), modelBytes: undefined });
      return;
    }
    const next = await loadInference({ ...this.base(), modelBytes: v.value.bytes });
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
  }

  private base(): Omit<InferenceOptions, 'modelBytes'> {
    const { inputSize, outputSize, rules, ort, tsWorker, prefer, budgetMs, probeRows } = this.o;
    return { inputSize, outputSize, rules, ...(ort ? { ort } : {}), ...(tsWorker ? { tsWorker } : {}), ...(prefer ? { prefer } : {}), ...(budgetMs !== undefined ? { budgetMs } : {}), ...(probeRows ? { probeRows } : {}) };
  }

  async run(features: Float32Array): Promise<Float32Array> {
    if (!this.inference) await this.ensure(undefined, this.triedAtMs);
    return (this.inference as Inference).run(features, 1);
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
    return this.inference?.reasons ?? [];
  }

  async release(): Promise<void> {
    await this.inference?.release();
    this.inference = undefined;
    this.key = '';
  }
}
