import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyAffine, composeAffine, faceBoxFromKeypoints, faceCrop, KEYPOINT_BOX_SCALE, scaling, selectBackend, translation, warpImage, type RawImage } from '@ifan/core';
import { decodeImage } from '@ifan/core/node';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector as createBrowserDetector, cropFaces, faceSamples, faceTransform, pointsToImage } from '../src/index';
import { blazefaceModelPath, createDetector, fileModelHandler, humanModelPath } from '../src/node';
import type { DetectedFace, Detector, Point } from '../src/types';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
type Truth = { leftEye: Point; rightEye: Point; mouth: Point };
const truth = JSON.parse(readFileSync(join(fixtures, 'fixtures.json'), 'utf8')) as Record<string, Truth[]>;
const load = (name: string) => decodeImage(join(fixtures, name));

const dist = (p: Point, q: Point) => Math.hypot(p[0] - q[0], p[1] - q[1]);
/** The face's scale: what `faceBoxFromKeypoints` multiplies (eye distance or eye-to-mouth distance). */
const scaleOf = (t: Truth) => faceBoxFromKeypoints(t.leftEye, t.rightEye, t.mouth)[2] / 3.2;
function iou(a: number[], b: number[]): number {
  const ix = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const iy = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  return ix <= 0 || iy <= 0 ? 0 : (ix * iy) / (a[2] * a[3] + b[2] * b[3] - ix * iy);
}
/** The detected face nearest to a true face, and its errors in units of the face's scale. */
function match(faces: DetectedFace[], t: Truth) {
  const face = [...faces].sort((a, b) => dist(a.keypoints.mouth, t.mouth) - dist(b.keypoints.mouth, t.mouth))[0];
  const D = scaleOf(t);
  return {
    face,
    eyeError: Math.max(dist(face.keypoints.leftEye, t.leftEye), dist(face.keypoints.rightEye, t.rightEye)) / D,
    mouthError: dist(face.keypoints.mouth, t.mouth) / D,
    framingIou: iou(face.framingBox, faceBoxFromKeypoints(t.leftEye, t.rightEye, t.mouth)),
  };
}

let detector: Detector;
beforeAll(async () => {
  await selectBackend({ log: false });
  detector = await createDetector();
});
afterAll(() => detector?.dispose());

describe('detect on pictures with known faces', () => {
  for (const [name, count] of [
    ['one-face.jpg', 1],
    ['three-faces.jpg', 3],
    ['tilted-face.jpg', 1],
    ['no-face.jpg', 0],
  ] as const) {
    it(`${name}: ${count} face(s), keypoints on the true points, framed by faceBoxFromKeypoints`, async () => {
      const faces = await detector.detect(await load(name));
      expect(faces).toHaveLength(count);
      expect(truth[name]).toHaveLength(count);
      for (const t of truth[name]) {
        const m = match(faces, t);
        expect(m.eyeError).toBeLessThan(0.25);
        expect(m.mouthError).toBeLessThan(0.3);
        expect(m.framingIou).toBeGreaterThan(0.6);
        expect(m.face.score).toBeGreaterThan(0.5);
      }
      for (const f of faces) {
        expect(f.framingBox).toEqual(faceBoxFromKeypoints(f.keypoints.leftEye, f.keypoints.rightEye, f.keypoints.mouth));
        expect(f.keypoints.leftEye[0]).toBeLessThan(f.keypoints.rightEye[0]); // the image's left eye
      }
      const scores = faces.map((f) => f.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    });
  }

  it('maxFaces and minScore limit the faces', async () => {
    const image = await load('three-faces.jpg');
    expect(await detector.detect(image, { maxFaces: 2 })).toHaveLength(2);
    expect(await detector.detect(image, { minScore: 0.999 })).toHaveLength(0);
  });
});

describe('mapping back to the photo', () => {
  it('finds the same points after scaling and placing the picture off-centre in a wide photo (pooled, padded input)', async () => {
    const image = await load('one-face.jpg');
    const [face] = await detector.detect(image);
    // 2.5x larger inside a 900 x 500 photo: the detector pools by 3, pads top and bottom, and resizes
    const a = composeAffine(scaling(2.5), translation(430, 60));
    const big = warpImage(image, a, 900, 500, [128, 128, 128]);
    const faces = await detector.detect(big);
    expect(faces).toHaveLength(1);
    const D = scaleOf({ leftEye: face.keypoints.leftEye, rightEye: face.keypoints.rightEye, mouth: face.keypoints.mouth }) * 2.5;
    for (const k of ['leftEye', 'rightEye', 'nose', 'mouth'] as const) {
      const expected = applyAffine(a, ...face.keypoints[k]);
      expect(dist(faces[0].keypoints[k], expected) / D).toBeLessThan(0.1);
    }
    // the tensor path pools with tf.avgPool, the RawImage path in JavaScript: the same numbers
    const tensor = tf.tensor3d(big.data, [big.height, big.width, 3], 'int32');
    const fromTensor = await detector.detect(tensor);
    tensor.dispose();
    expect(dist(fromTensor[0].keypoints.mouth, faces[0].keypoints.mouth)).toBeLessThan(1e-3);
    expect(iou(faces[0].framingBox, [face.framingBox[0] * 2.5 + 430, face.framingBox[1] * 2.5 + 60, face.framingBox[2] * 2.5, face.framingBox[3] * 2.5])).toBeGreaterThan(0.85);
  });

  it('a tall picture (padded left and right) and a tensor input give the RawImage results', async () => {
    const image = await load('one-face.jpg');
    const tall = warpImage(image, translation(20, 90), 200, 340, [90, 90, 90]);
    const fromRaw = await detector.detect(tall);
    const tensor = tf.tensor3d(tall.data, [tall.height, tall.width, 3], 'int32');
    const fromTensor = await detector.detect(tensor);
    tensor.dispose();
    expect(fromTensor).toHaveLength(1);
    expect(fromTensor[0].keypoints.mouth[0]).toBeCloseTo(fromRaw[0].keypoints.mouth[0], 3);
    const [face] = await detector.detect(image);
    expect(dist(fromRaw[0].keypoints.leftEye, [face.keypoints.leftEye[0] + 20, face.keypoints.leftEye[1] + 90]) / scaleOf(truth['one-face.jpg'][0])).toBeLessThan(0.1);
  });

  it('a JPEG stored turned with an EXIF orientation is decoded upright and found where it is seen', async () => {
    const image = await load('one-face.jpg');
    // stored turned 90 degrees anticlockwise; orientation 6 tells viewers to turn it clockwise
    const stored = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
      .rotate(270)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const decoded = await decodeImage(stored);
    expect([decoded.width, decoded.height]).toEqual([image.width, image.height]);
    const [face] = await detector.detect(decoded);
    const t = truth['one-face.jpg'][0];
    expect(match([face], t).eyeError).toBeLessThan(0.25);
  });
});

describe('roll and alignment', () => {
  it('measures the roll of a tilted face and aligns it upright', async () => {
    const image = await load('tilted-face.jpg');
    const [face] = await detector.detect(image);
    expect((face.roll * 180) / Math.PI).toBeGreaterThan(18);
    expect((face.roll * 180) / Math.PI).toBeLessThan(32);
    const t = truth['tilted-face.jpg'][0];
    const level = (tr: ReturnType<typeof faceTransform>) => {
      const [l, r] = [applyAffine(tr.affine, ...t.leftEye), applyAffine(tr.affine, ...t.rightEye)];
      return Math.abs(Math.atan2(r[1] - l[1], r[0] - l[0]) * (180 / Math.PI));
    };
    const aligned = faceTransform(face, [image.width, image.height], { size: 64, align: true });
    const plain = faceTransform(face, [image.width, image.height], { size: 64 });
    expect(level(plain)).toBeGreaterThan(20);
    expect(level(aligned)).toBeLessThan(6);
    // the aligned crop keeps the framing: same centre and scale as the unrotated one
    const centre = (tr: ReturnType<typeof faceTransform>) => applyAffine(tr.affine, face.framingBox[0] + face.framingBox[2] / 2, face.framingBox[1] + face.framingBox[3] / 2);
    expect(centre(aligned)[0]).toBeCloseTo(32, 6);
    expect(centre(aligned)[1]).toBeCloseTo(32, 6);
  });

  it('cropFaces gives one network input per face and pointsToImage maps crop points back', async () => {
    const image = await load('three-faces.jpg');
    const faces = await detector.detect(image);
    const { images, transforms } = cropFaces(image, faces, { size: 48, framing: { margin: 0.1 }, align: true });
    expect(images.map((i) => [i.width, i.height])).toEqual([[48, 48], [48, 48], [48, 48]]);
    faces.forEach((f, i) => {
      const inCrop = applyAffine(transforms[i].affine, ...f.keypoints.nose);
      const [back] = pointsToImage(transforms[i], [inCrop]);
      expect(dist(back, f.keypoints.nose)).toBeLessThan(1e-6);
      expect(inCrop[0]).toBeGreaterThan(10);
      expect(inCrop[0]).toBeLessThan(38);
    });
  });
});

describe('faceSamples', () => {
  it('one sample per face, framed by its framingBox: faceCrop of it is cropFaces without alignment', async () => {
    const image = await load('three-faces.jpg');
    const faces = await detector.detect(image);
    const samples = faceSamples('group.jpg', image, faces);
    expect(samples.map((s) => s.id)).toEqual(['group.jpg#0', 'group.jpg#1', 'group.jpg#2']);
    const li = await samples[1].load();
    expect(li.image).toBe(image);
    expect(li.faceBox).toEqual(faces[1].framingBox);
    const { transforms } = cropFaces(image, faces, { size: 32, framing: { margin: 0.2 } });
    expect(faceCrop([image.width, image.height], li.faceBox, { size: 32, margin: 0.2 }).affine).toEqual(transforms[1].affine);
    // a model framed with a larger keypoint box sees the same centre, the box scaled about it
    const wide = cropFaces(image, faces, { size: 32, framing: { margin: 0.2, keypointBoxScale: KEYPOINT_BOX_SCALE * 1.25 } }).transforms[1];
    const [x, y, w, h] = faces[1].framingBox;
    const scaled: [number, number, number, number] = [x - w / 8, y - h / 8, w * 1.25, h * 1.25];
    const expected = faceCrop([image.width, image.height], scaled, { size: 32, margin: 0.2 }).affine;
    wide.affine.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 9));
  });
});

describe('resources and errors', () => {
  it('frees every tensor it makes: detect leaves none, dispose frees the weights', async () => {
    const image = await load('three-faces.jpg');
    const before = tf.memory().numTensors;
    const d = await createDetector();
    const loaded = tf.memory().numTensors;
    expect(loaded).toBeGreaterThan(before);
    await d.detect(image);
    await d.detect(await load('no-face.jpg'));
    expect(tf.memory().numTensors).toBe(loaded);
    await expect(d.detect({ width: 2, height: 2, channels: 3, data: new Uint8Array(3) })).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(loaded);
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(d.detect(image)).rejects.toThrow(/disposed/);
  });

  it('says what it expected for bad input', async () => {
    await expect(detector.detect({ width: 10, height: 10, channels: 3, data: new Uint8Array(5) })).rejects.toThrow(
      /expected a RawImage .* got \{ width: 10, height: 10, channels: 3, data: Uint8Array of 5 values \}/,
    );
    await expect(detector.detect(null as unknown as RawImage)).rejects.toThrow(/expected a RawImage/);
    const t4 = tf.zeros([1, 8, 8, 3]);
    await expect(detector.detect(t4 as unknown as tf.Tensor3D)).rejects.toThrow(/got a float32 tensor of shape \[1, 8, 8, 3\]/);
    t4.dispose();
    await expect(detector.detect(await load('one-face.jpg'), { minScore: 2 })).rejects.toThrow(/minScore must be in \[0, 1\]/);
  });

  it('the browser-safe entry needs a model and takes an IOHandler', async () => {
    await expect(createBrowserDetector()).rejects.toThrow(/@ifan\/detect\/node/);
    const d = await createBrowserDetector({ model: fileModelHandler(blazefaceModelPath()) });
    expect(await d.detect(await load('three-faces.jpg'))).toHaveLength(3);
    d.dispose();
  });

  it('finds the installed @vladmandic/human\'s models by name; a name it does not ship is an error naming the path', () => {
    expect(blazefaceModelPath()).toMatch(/@vladmandic[/\\]human[/\\]models[/\\]blazeface\.json$/);
    expect(humanModelPath('emotion')).toMatch(/models[/\\]emotion\.json$/);
    expect(() => humanModelPath('no-such-model')).toThrow(/models[/\\]no-such-model\.json is missing: this @vladmandic\/human does not ship models\/no-such-model\.json/);
  });

  it('a missing model file is reported with its path', async () => {
    await expect(createDetector({ model: '/nowhere/blazeface.json' })).rejects.toThrow(/cannot read the model \/nowhere\/blazeface.json/);
  });
});
