// Precision and recall on held-out data, written beside each model as evaluation.json.

export interface Counts {
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  readonly precision: number;
  readonly recall: number;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

function counts(pairs: readonly [number, boolean][], threshold: number): Counts {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const [score, truth] of pairs) {
    const yes = score >= threshold;
    if (yes && truth) tp++;
    else if (yes) fp++;
    else if (truth) fn++;
    else tn++;
  }
  return { threshold, tp, fp, fn, tn, precision: round4(tp + fp === 0 ? 1 : tp / (tp + fp)), recall: round4(tp + fn === 0 ? 1 : tp / (tp + fn)) };
}

export interface Evaluation {
  readonly model: string;
  readonly version: string;
  readonly heldOutSamples: number;
  readonly summary: Readonly<Record<string, { precision: number; recall: number }>>;
  readonly detail: Readonly<Record<string, readonly Counts[]>>;
}

/**
 * Multi-label models (one sigmoid per beam) are scored per output; single-label models score each
 * named positive group (for example "anomaly" = degraded or severe) by the summed probability.
 */
export function evaluate(
  model: string,
  version: string,
  preds: readonly Float32Array[],
  ys: readonly Float32Array[],
  multiLabel: boolean,
  positives: Readonly<Record<string, readonly number[]>>,
  _labels: readonly string[],
): Evaluation {
  const groups: Record<string, [number, boolean][]> = {};
  if (multiLabel) {
    const all: [number, boolean][] = [];
    preds.forEach((p, i) => p.forEach((s, j) => all.push([s, ((ys[i] as Float32Array)[j] ?? 0) > 0.5])));
    groups.obstacle = all;
  } else {
    for (const [g, idx] of Object.entries(positives)) {
      groups[g] = preds.map((p, i) => [idx.reduce((s, j) => s + (p[j] ?? 0), 0), idx.some((j) => ((ys[i] as Float32Array)[j] ?? 0) > 0.5)]);
    }
  }
  const summary: Record<string, { precision: number; recall: number }> = {};
  const detail: Record<string, Counts[]> = {};
  for (const [g, pairs] of Object.entries(groups)) {
    detail[g] = [0.5, 0.85].map((t) => counts(pairs, t));
    const at = detail[g][0] as Counts;
    summary[g] = { precision: at.precision, recall: at.recall };
    const hi = detail[g][1] as Counts;
    summary[`${g}@0.85`] = { precision: hi.precision, recall: hi.recall };
  }
  return { model, version, heldOutSamples: preds.length, summary, detail };
}
