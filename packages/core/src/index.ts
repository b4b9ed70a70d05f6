export * from './data/index';
export type * from './plugin';
export type { BatchSlice, ForwardContext, MovingStatUpdate } from './nn/context';
export {
  BatchStatsSyncError,
  SharedStatsReducer,
  batchStatsReducer,
  combineMoments,
  createSharedStatsBuffer,
  setBatchStatsReducer,
} from './nn/batch-sync';
export type { BatchStatsReducer, SharedStatsOptions } from './nn/batch-sync';
export { Rng, mixSeed } from './rng';
export type { RandomSource } from './rng';
export { ParamStore, ParamScope } from './nn/params';
export type { Initializer } from './nn/params';
export {
  BatchNorm,
  BnReluConv,
  Conv2D,
  Dense,
  SHARED_BN_KEY,
  applyMovingStatUpdates,
  discardMovingStatUpdates,
  dropout,
} from './nn/layers';
export type { BatchNormArgs, Conv2DArgs, DenseArgs } from './nn/layers';
export { Backbone, BACKBONE_PRESETS, resolveBackboneConfig } from './backbone';
export type { BackboneConfig, BackbonePresetName, Site } from './backbone';
export { IntegratedNetwork, DEFAULT_NETWORK_CONFIG } from './network';
export type { ColourMode, ForwardOptions, ForwardResult, InferenceOptions, NetworkConfig, VariableSelection } from './network';
export { checkLossWeights, fixedLossWeighting } from './loss-weighting';
export type { FixedLossWeightingOptions, LossWeighting, LossWeightingContext, LossWeights } from './loss-weighting';
export { saveNetwork, loadNetwork, NETWORK_FORMAT, NETWORK_FORMAT_VERSION } from './io';
export type { LoadNetworkOptions, SavedPlugin, SavedTopology } from './io';
export { selectBackend, currentBackend, resetBackendSelection, BACKENDS } from './backend';
export type { BackendChoice, BackendName, SelectBackendOptions } from './backend';
export { ConvPyramidEncoder, maskedMean, softmaxCrossEntropy, tileToSizes } from './nn/blocks';
export type { ConvPyramidArgs } from './nn/blocks';
export { composeOverlays } from './visualize';
