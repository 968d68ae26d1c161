// The run event stream: what a run (deterministic or real time) tells its observers. The live
// dashboard, the recorder and the HTML report all consume this one closed vocabulary; this file
// documents it for other tools. Times (`at`) are simulated milliseconds since the run started.

/** Nodes are named by index as in scenario files: validators 0..n-1, then followers. */
export type NodeIndex = number;

export type NodeRole = 'validator' | 'follower';
/** alive/suspect/dead come from the failure detector's point of view; crashed is ground truth. */
export type NodeHealth = 'alive' | 'suspect' | 'dead' | 'crashed';

export interface NodeInfo {
  readonly index: NodeIndex;
  readonly id: string;
  readonly role: NodeRole;
  /** The agent inference engine the node runs ('onnx', 'ts', or 'none'). */
  readonly engine: string;
}

/** Points are [northM, eastM] in the local frame around the fleet's origin. */
export type PointNe = readonly [number, number];

export interface WorldInfo {
  readonly geofence: readonly PointNe[] | null;
  readonly surveyArea: readonly PointNe[] | null;
  /** Side of one survey coverage cell, metres; cells index a grid over surveyArea's bounding box. */
  readonly coverageCellM: number;
  readonly radioRangeM: number | null;
  readonly home: PointNe;
}

/** One node at one moment. Short keys: a 1000-node frame should stay small on the wire. */
export interface NodeSample {
  readonly i: NodeIndex;
  /** north, east, up, metres */
  readonly n: number;
  readonly e: number;
  readonly u: number;
  /** battery remaining, percent */
  readonly bat: number;
  /** committed height and current round */
  readonly h: number;
  readonly r: number;
  readonly health: NodeHealth;
  /** Byzantine behaviour if any (equivocate, twins, forge, ...). */
  readonly byz: string | null;
  /** Flight mode or task, human-readable ('survey', 'hold', 'rtl', 'landed', ...). */
  readonly mode: string;
}

export type FaultKind =
  | 'crash'
  | 'restart'
  | 'partition'
  | 'heal'
  | 'broker-down'
  | 'broker-up'
  | 'byzantine'
  | 'failsafe'
  | 'geofence'
  | 'link-loss'
  | 'forged-command';

export type RunEvent =
  | {
      readonly t: 'run';
      readonly at: number;
      readonly scenario: string;
      readonly seed: number;
      readonly mode: 'deterministic' | 'realtime';
      readonly durationMs: number;
      readonly nodes: readonly NodeInfo[];
      readonly world: WorldInfo;
    }
  | {
      readonly t: 'frame';
      readonly at: number;
      readonly nodes: readonly NodeSample[];
      readonly proposer: NodeIndex | null;
      /** Radio links in range and up, as index pairs (a < b). */
      readonly radio: readonly (readonly [NodeIndex, NodeIndex])[];
      readonly broker: 'up' | 'down';
    }
  | {
      readonly t: 'commit';
      readonly at: number;
      readonly height: number;
      readonly round: number;
      readonly proposer: NodeIndex;
      /** From the first submission of the oldest command in the block (or the height's start) to commit. */
      readonly latencyMs: number;
      /** Each operator command this commit settled, from its first submission to the commit: the values
       *  whose percentiles are the report's latencyMs.commitP50 and commitP99 (the page's commit p50). */
      readonly commandLatencyMs?: readonly number[];
      readonly txs: number;
      readonly commands: number;
    }
  | { readonly t: 'fault'; readonly at: number; readonly kind: FaultKind; readonly nodes: readonly NodeIndex[]; readonly detail: string }
  | { readonly t: 'evidence'; readonly at: number; readonly kind: string; readonly validator: NodeIndex; readonly height: number }
  | {
      readonly t: 'hazard';
      readonly at: number;
      readonly id: string;
      readonly n: number;
      readonly e: number;
      readonly radiusM: number;
      /** detected: an agent attested it; committed: the swarm agreed and replanned; cleared: none of its
       *  cells is committed any more (an operator's hazard.clear, or the drones' denials). */
      readonly status: 'detected' | 'committed' | 'cleared';
      readonly by: NodeIndex | null;
      /** For `cleared`: how, as the decision log's hazard.cleared row says it ("by op (hazard.clear
       *  ops/0a1b)", "on the denials of d1, d2"). */
      readonly how?: string;
    }
  | { readonly t: 'coverage'; readonly at: number; readonly cells: readonly number[]; readonly fraction: number }
  | { readonly t: 'log'; readonly at: number; readonly level: 'info' | 'warn' | 'error'; readonly text: string }
  | { readonly t: 'end'; readonly at: number; readonly report: unknown };

export type RunEventType = RunEvent['t'];

/** Anything that wants to follow a run. Observers must not throw and must not block for long. */
export interface RunObserver {
  onEvent(event: RunEvent): void;
}

/** Fan-out to several observers; one failing observer never stops the run or the others. */
export function fanOut(observers: readonly RunObserver[], onError: (e: unknown) => void = () => {}): RunObserver {
  return {
    onEvent(event) {
      for (const o of observers) {
        try {
          o.onEvent(event);
        } catch (e) {
          onError(e);
        }
      }
    },
  };
}
