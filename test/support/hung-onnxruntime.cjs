// A stand-in for onnxruntime-node whose sessions load but never finish a run: what the main thread
// sees of a worker stuck inside the native library (test/agents/ort-hang.test.ts). Loading it takes
// MURMUR_TEST_ORT_START_MS (a slow card loading the real library).
const startMs = Number(process.env.MURMUR_TEST_ORT_START_MS ?? 0);
if (startMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, startMs);
exports.env = { versions: { node: 'hung' } };
exports.Tensor = class Tensor {
  constructor(type, data, dims) {
    this.type = type;
    this.data = data;
    this.dims = dims;
  }
};
exports.InferenceSession = {
  create: async () => ({ inputNames: ['features'], outputNames: ['scores'], run: () => new Promise(() => undefined), release: async () => undefined }),
};
