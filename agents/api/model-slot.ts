// One agent's model: loads the version the committed rollout assigns to this device, only if the
// file's hash matches the committed one, and swaps engines when the assignment changes. A refused
// model leaves the previous verified model (or the rules) running, and the refusal is kept for status.

import type { ModelRef } from '../../runtime/wire/attestation.js';
import { fromHex } from '../../runtime/lib/bytes.js';
import { loadInference, type EngineKind, type Inference } from '../inference/engine.js';
import type { OrtWorker } from '../inference/ort-worker.js';
import { loadVerifiedModel, shippedModelsDir, type CommittedModel } from '../models/registry.js';

export interface ModelSlotOptions {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly rules: (features: Float32Array) => Float32Array;
  readonly ort?: OrtWorker;
  readonly prefer?: readonly EngineKind[];
  /** Directory holding `<name>/` for a committed version; defaults to the shipped models. */
  readonly modelsDirFor?: (ref: CommittedModel) => string;
  readonly shippedDir?: string;
}

export class ModelSlot {
  private inference: Inference | undefined;
  private ref: ModelRef | undefined;
  private key = '';
  private refusal: string | null = null;

  constructor(private readonly o: ModelSlotOptions) {}

  /** Loads the shipped model (no rollout yet) or the committed one; no-op when unchanged. */
  async ensure(committed: CommittedModel | null | undefined): Promise<void> {
    const key = committed ? `${committed.version}:${committed.hashHex}` : 'shipped';
    if (key === this.key && this.inference) return;
    this.key = key;
    const dir = committed ? (this.o.modelsDirFor?.(committed) ?? this.o.shippedDir ?? shippedModelsDir) : (this.o.shippedDir ?? shippedModelsDir);
    const v = loadVerifiedModel(dir, this.o.name, committed ?? undefined);
    if (!v.ok) {
      this.refusal = v.error;
      if (!this.inference) this.inference = await loadInference({ ...this.base(), modelBytes: undefined });
      return;
    }
    this.refusal = null;
    const next = await loadInference({ ...this.base(), modelBytes: v.value.bytes });
    await this.inference?.release();
    this.inference = next;
    this.ref = next.engine === 'rules' ? undefined : { name: v.value.meta.name, version: v.value.meta.version, hash: fromHex(v.value.meta.hash.hex) as Uint8Array };
  }

  private base(): { inputSize: number; outputSize: number; rules: (f: Float32Array) => Float32Array; ort?: OrtWorker; prefer?: readonly EngineKind[] } {
    return { inputSize: this.o.inputSize, outputSize: this.o.outputSize, rules: this.o.rules, ...(this.o.ort ? { ort: this.o.ort } : {}), ...(this.o.prefer ? { prefer: this.o.prefer } : {}) };
  }

  async run(features: Float32Array): Promise<Float32Array> {
    if (!this.inference) await this.ensure(undefined);
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
