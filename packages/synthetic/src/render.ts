/**
 * Draws a face into a canvas, part by part (one renderer per part in `parts/`), in painter's order:
 * the backdrop (background, clutter, body), the hair behind the head, the ears, the head, skin lines,
 * nose, eyes, brows, mouth, the hair over the head, glasses and occluders. Each part is an implicit
 * shape in the face's frame; the same shapes give the mask classes and the landmark positions, so
 * labels match the picture exactly.
 */
import type { Rng } from '@ifan/core/rng';
import type { ExpressionShape, Identity } from './face';
import { drawBackdrop } from './parts/backdrop';
import { drawBrows } from './parts/brows';
import { drawEyes } from './parts/eyes';
import { DEG, FaceFrame, type SceneOptions } from './parts/frame';
import { drawGlasses } from './parts/glasses';
import { drawBackHair, frontHair } from './parts/hair';
import { drawEars, headShape } from './parts/head';
import { drawMouth } from './parts/mouth';
import { drawNose } from './parts/nose';
import { drawOccluders } from './parts/occluders';
import { drawSkinLines } from './parts/skin-lines';
import { type Canvas, type Shape, addCover, apply, distanceAt, draw, planShape } from './raster';

export type { SceneOptions } from './parts/frame';

export interface RenderResult {
  points: [number, number][];
  faceBox: [number, number, number, number];
  visible: boolean[];
  occluded: boolean;
  glasses: boolean;
  yaw: number;
  roll: number;
  faceScale: number;
}

/**
 * Draws one face. `rng` must be the image's stream (the pose and light, the backdrop, the gaze, glasses
 * and occluders are drawn from it in that order); the identity and expression come in already sampled.
 */
export function renderFace(canvas: Canvas, id: Identity, ex: ExpressionShape, opts: SceneOptions, rng: Rng): RenderResult {
  const face = new FaceFrame(canvas.width, canvas.height, id, ex, opts, rng);

  // The head and the hair over it are made first, so that nothing drawn before them is drawn where
  // they surely cover (their inside blocks): `coverHead`, inside the head or the opaque hair over it,
  // is hidden from the backdrop, the hair behind the head and the ears; `coverHair`, inside the opaque
  // hair, from the face too. This changes no byte.
  const head = headShape(face);
  const hair = frontHair(face);
  const headPlan = planShape(canvas, head);
  const hairPlan = hair ? planShape(canvas, hair.shape) : null;
  const coverHair = new Int32Array(2 * canvas.height);
  if (hairPlan && hair!.opaque) addCover(hairPlan, coverHair);
  const coverHead = coverHair.slice();
  addCover(headPlan, coverHead);

  drawBackdrop(canvas, face, coverHead, opts.clutter, rng);
  canvas.cover = coverHead;
  drawBackHair(canvas, face);
  drawEars(canvas, face);
  canvas.cover = coverHair;
  draw(canvas, head, headPlan);
  drawSkinLines(canvas, face);
  const noseTip = drawNose(canvas, face);
  const eyeCentres = drawEyes(canvas, face, rng);
  drawBrows(canvas, face);
  const mouthCorners = drawMouth(canvas, face);
  canvas.cover = null;
  if (hair) draw(canvas, hair.shape, hairPlan!);
  const glasses = drawGlasses(canvas, face, opts.glasses, rng);
  const occluders = drawOccluders(canvas, face, opts.occlusion, rng);

  const points: [number, number][] = [eyeCentres[0], eyeCentres[1], noseTip, mouthCorners[0], mouthCorners[1]];
  return {
    points,
    faceBox: faceBox(face),
    visible: points.map(([x, y]) => visibleAt(occluders, x, y)),
    occluded: occluders.length > 0,
    glasses,
    yaw: face.yaw / DEG,
    roll: face.roll / DEG,
    faceScale: face.scale,
  };
}

/** Whether a landmark at pixel `(x, y)` is visible: no occluder within 2 pixels of it. */
function visibleAt(occluders: Shape[], x: number, y: number): boolean {
  return occluders.every((o) => distanceAt(o, x, y) >= 2);
}

/** `[x, y, width, height]` in pixels of the face from cheek to cheek and from the hairline to the chin. */
function faceBox(face: FaceFrame): [number, number, number, number] {
  const a = face.faceA;
  let bx0 = Infinity;
  let by0 = Infinity;
  let bx1 = -Infinity;
  let by1 = -Infinity;
  for (const [u, v] of [
    [-a, -0.62],
    [a, -0.62],
    [-a, 1.03],
    [a, 1.03],
  ]) {
    const [x, y] = apply(face.F, u, v);
    bx0 = Math.min(bx0, x);
    by0 = Math.min(by0, y);
    bx1 = Math.max(bx1, x);
    by1 = Math.max(by1, y);
  }
  return [bx0, by0, bx1 - bx0, by1 - by0];
}
