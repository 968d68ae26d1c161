// The subset of the ONNX model format Murmur's shipped models use, as plain data: dense float32
// networks (Gemm, MatMul, Add, Relu, Sigmoid, Tanh, Softmax, Identity). onnx-proto.ts encodes and
// decodes it (onnx/onnx.proto3, IR version 8, opset 13).

export interface OnnxTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export type OnnxAttr = number | string | readonly number[];

export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, OnnxAttr>>;
}

/** A graph input or output; a string dim is symbolic (the batch size, "N"). */
export interface OnnxValueInfo {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  readonly irVersion: number;
  readonly opsetVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly graph: OnnxGraph;
  /** metadata_props: Murmur stores the model name and version here. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** The operators the pure-TypeScript engine runs; a model using anything else is refused by it. */
export const supportedOps = ['Gemm', 'MatMul', 'Add', 'Relu', 'Sigmoid', 'Tanh', 'Softmax', 'Identity'] as const;
