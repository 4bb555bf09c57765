/**
 * Loading a verified model (models/readModel) into a tfjs GraphModel in this thread. `batchable` rewrites the
 * input Placeholder's (and the signature's) batch dimension to -1, for graphs exported with a fixed batch of 1
 * whose backbone is in fact batch-agnostic (centernet): tfjs checks input shapes against the Placeholder.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfconv from '@tensorflow/tfjs-converter';
import { readModel, type ModelEntry } from '../models/index.js';
import { freeSpatialSize, scaledWeights, type WeightSpec } from './input-size.js';

interface ShapeDim { size?: string }
interface GraphNode { name: string; op: string; attr?: { shape?: { shape?: { dim?: ShapeDim[] } } } }
interface Signature { inputs?: Record<string, { tensorShape?: { dim?: ShapeDim[] } }> }

export interface LoadedGraph { readonly model: tfconv.GraphModel; readonly entry: ModelEntry }

export interface LoadGraphOptions {
  readonly batchable?: boolean;
  readonly dir?: string;
  /** Run at this square input size instead of the manifest's (see input-size.ts); absent: the manifest's. */
  readonly inputSize?: number;
}

export async function loadGraph(name: string, options: LoadGraphOptions = {}): Promise<LoadedGraph> {
  const art = await readModel(name, options.dir);
  const native = art.entry.inputShape[1] ?? 0;
  const resized = options.inputSize !== undefined && options.inputSize !== native;
  // A deep copy, so the patch never leaks into another reader of the same artifacts.
  const topology = (resized ? freeSpatialSize(art.modelTopology) : structuredClone(art.modelTopology)) as { node?: GraphNode[] };
  const signature = (art.signature ? structuredClone(art.signature) : undefined) as Signature | undefined;
  if (options.batchable) {
    for (const n of topology.node ?? []) {
      const dim = n.op === 'Placeholder' ? n.attr?.shape?.shape?.dim : undefined;
      if (dim?.[0]) dim[0].size = '-1';
    }
    for (const input of Object.values(signature?.inputs ?? {})) {
      const dim = input.tensorShape?.dim;
      if (dim?.[0]) dim[0].size = '-1';
    }
  }
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: topology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: art.weightSpecs as tf.io.WeightsManifestEntry[],
    weightData: resized ? scaledWeights(name, art.weightSpecs as WeightSpec[], art.weightData, native, options.inputSize!) : art.weightData,
    ...(signature && !resized ? { signature: signature as object } : {}),
  }));
  return { model, entry: art.entry };
}
