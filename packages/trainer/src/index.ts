/**
 * @ifan/trainer: cross-dataset hybrid training (paper 3.3, Algorithm 1), evaluation with the paper's
 * tables, and the `ifan` command.
 */
export { Trainer, RUN_FILES } from './trainer';
export type {
  AugmentConfig,
  CheckpointConfig,
  CropConfig,
  EpochInfo,
  FitResult,
  LossWeightingConfig,
  LrSchedule,
  OptimizerConfig,
  OptimizerType,
  ResolvedLossWeighting,
  ResolvedTrainConfig,
  ScheduleConfig,
  StageName,
  StepRecord,
  TaskData,
  TrainerHook,
  TrainerOptions,
  TrainerView,
  ValidationReport,
} from './types';
export { ConfigError, TrainingDivergedError } from './errors';
export { GradientThreads } from './gradient-threads';
export type { GradientsResult, ThreadsOption } from './gradient-threads';
export {
  DEFAULT_AUGMENT_CONFIG,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CHECKPOINT,
  DEFAULT_CROP,
  DEFAULT_OPTIMIZER,
  DEFAULT_SCHEDULE,
  PAPER_SCHEDULE,
  roundsForEpochs,
} from './defaults';
export { learningRate, planSchedule, batchesPerEpoch, Sampler } from './schedule';
export type { PlanUnit, PlanSource, SamplerState } from './schedule';
export { evaluate, EvaluationAborted } from './evaluate';
export type { EvaluateOptions, EvaluationResult, TaskEvaluation } from './evaluate';
export { buildTables, resultsToMarkdown, tableToMarkdown } from './tables';
export type { EvaluationRun, Table } from './tables';
export { loadModel, resolveModel } from './model';
export type { LoadedModel } from './model';
export { predictFaces, predictImages, predictSamples } from './predict';
export type { FacesPrediction, PredictFacesOptions, PredictOptions, Prediction } from './predict';
export { analyzeFaces, faceInputTransform, loadFaceDetector } from './faces';
export type { AnalyzeFacesOptions, FaceBox, FaceDetectorLike, FaceInput, FaceKeypointName, FaceKeypoints, FaceModel, FacePoint, FaceResult, FacesAnalysis } from './faces';
export { registerTask, taskNames } from './tasks';
export type { TaskEntry } from './tasks';
export { buildRun, checkRunConfig, parseDataSpec } from './run-config';
export type { BuiltRun, DataSpec, RunConfigFile, TaskSpec } from './run-config';
