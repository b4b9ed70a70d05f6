/**
 * @ifan/detect: every face in a photo, with BlazeFace's keypoints, the box iFAN models are trained on
 * (`framingBox`, from core's `faceBoxFromKeypoints`) and the head's roll; crops for the network and the
 * way back to the photo. Browser-safe; `@ifan/detect/node` loads the weights from the installed files.
 */
export { createDetector, loadBlazeface, DEFAULT_DETECTOR_OPTIONS } from './detector';
export type { DetectorOptions, ModelSource } from './detector';
export { BLAZEFACE_INPUT, blazefaceAnchors, decodeBlazeface, weightedNms } from './blazeface';
export type { RawDetection } from './blazeface';
export { cropFaces, faceSamples, faceTransform, pointsToImage } from './framing';
export type { FaceCrops, FaceTransformOptions } from './framing';
export type * from './types';
