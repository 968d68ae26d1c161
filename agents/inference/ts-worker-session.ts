// The pure-TypeScript engine as the inference worker loads it (ort-worker.ts, backend 'pure-ts'):
// verified model bytes in, a session out, or a throw with the reason.

import { decodeOnnx } from './onnx-proto.js';
import { createTsSession, type TsSession } from './ts-engine.js';

export function loadTsSession(bytes: Uint8Array): TsSession {
  const m = decodeOnnx(bytes);
  const s = m.ok ? createTsSession(m.value) : m;
  if (!s.ok) throw new Error(s.error);
  return s.value;
}
