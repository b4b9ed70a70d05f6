/**
 * Every face of a photo: `ifan predict` and `analyzeFaces` on the committed synthetic pictures of
 * @ifan/detect (1, 3 and 0 faces, one tilted), with a tiny randomly initialised 3-task model (what is
 * tested is the framing, the batch and the way back, not what the model says).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { applyAffine, DEFAULT_FRAMING, faceBoxFromKeypoints, IntegratedNetwork, saveNetwork, scaling, translation, composeAffine, warpImage, type InferenceOptions, type RawImage } from '@ifan/core';
import { decodeImage, fileSystemHandler } from '@ifan/core/node';
import { createDetector } from '@ifan/detect/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli';
import { analyzeFaces, faceInputTransform, importDetectPackage, type FaceBox } from '../src/faces';
import { loadModel, type LoadedModel } from '../src/model';
import { predictImages } from '../src/predict';
import { taskEntry } from '../src/tasks';
import { DEFAULT_PRETRAINED, pretrainedInfo } from '@ifan/models';
import { tempDir, useBackend } from './helpers';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../detect/test/fixtures');
type Truth = { leftEye: [number, number]; rightEye: [number, number]; mouth: [number, number] };
const truth = JSON.parse(readFileSync(join(fixtures, 'fixtures.json'), 'utf8')) as Record<string, Truth[]>;
const MARGIN = 0.2;

async function ifan(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

function iou(a: readonly number[], b: readonly number[]): number {
  const x0 = Math.max(a[0], b[0]);
  const y0 = Math.max(a[1], b[1]);
  const x1 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y1 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/** Index of the truth face whose framing box overlaps `box` most, and the overlap. */
function bestMatch(box: readonly number[], faces: Truth[], map = (p: [number, number]) => p): { k: number; iou: number } {
  const ious = faces.map((t) => iou(box, faceBoxFromKeypoints(map(t.leftEye), map(t.rightEye), map(t.mouth))));
  const k = ious.indexOf(Math.max(...ious));
  return { k, iou: ious[k] };
}

/** A 3-task tiny model, randomly initialised, saved as a run's model folder would be. */
async function tinyModel(dir: string): Promise<string> {
  const plugins = ['parsing', 'landmarks', 'emotion'].map((t) => taskEntry(t).create({}));
  const net = new IntegratedNetwork(plugins, { backbone: 'tiny', iterations: 1 });
  net.framing = { ...DEFAULT_FRAMING, margin: MARGIN };
  mkdirSync(dir, { recursive: true });
  await saveNetwork(net, fileSystemHandler(dir));
  net.dispose();
  return dir;
}

let modelDir: string;
let model: LoadedModel;
beforeAll(async () => {
  await useBackend();
  modelDir = await tinyModel(join(tempDir(), 'model'));
  model = await loadModel(modelDir);
});
afterAll(() => model?.net.dispose());

describe('ifan predict on whole photos', () => {
  it('a group photo: one result per face in the JSON, framed as training framed faces, one overlay of the whole photo', async () => {
    const out = join(tempDir(), 'out');
    const r = await ifan('predict', join(fixtures, 'three-faces.jpg'), '--model', modelDir, '--out', out);
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/three-faces\.jpg: 3 faces\n/);
    expect(r.out.match(/^ {2}face \d box /gm)).toHaveLength(3);
    expect(r.out).toMatch(/emotion \{"classIndex":\d,"className":"\w+"/);
    const json = JSON.parse(readFileSync(join(out, 'three-faces.json'), 'utf8'));
    expect(json).toMatchObject({ width: 480, height: 240, source: 'detector', faceCount: 3, overlay: 'three-faces.overlay.png' });
    const matched = new Set<number>();
    for (const f of json.faces) {
      // the framing box is the box of training: core's faceBoxFromKeypoints of the eyes and mouth
      const m = bestMatch(f.framingBox, truth['three-faces.jpg']);
      expect(m.iou).toBeGreaterThan(0.6);
      matched.add(m.k);
      expect(f.score).toBeGreaterThan(0.5);
      // the network saw the framing box grown by the model's saved margin
      const side = Math.hypot(f.crop[1][0] - f.crop[0][0], f.crop[1][1] - f.crop[0][1]);
      expect(side).toBeCloseTo(Math.max(f.framingBox[2], f.framingBox[3]) * (1 + 2 * MARGIN), 4);
      expect(f.outputs.landmarks.points).toHaveLength(5);
      expect(f.outputs.emotion.probabilities).toHaveLength(7);
      expect(typeof f.outputs.emotion.className).toBe('string');
      const png = await sharp(join(out, f.outputs.parsing.mask.png)).metadata();
      expect([png.width, png.height]).toEqual([480, 240]);
    }
    expect(matched.size).toBe(3);
    const overlay = await sharp(join(out, 'three-faces.overlay.png')).metadata();
    expect([overlay.width, overlay.height]).toEqual([480, 240]);
  });

  it('without --model runs the default pretrained model of @ifan/models and says so in one line; --model NAME picks one', async () => {
    const out = join(tempDir(), 'pre');
    const r = await ifan('predict', join(fixtures, 'one-face.jpg'), '--out', out);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`^ifan predict: no --model: using the pretrained "${DEFAULT_PRETRAINED}" \\(`, 'm'));
    const json = JSON.parse(readFileSync(join(out, 'one-face.json'), 'utf8'));
    expect(json.faces).toHaveLength(1);
    for (const t of pretrainedInfo(DEFAULT_PRETRAINED).tasks) expect(json.faces[0].outputs[t]).toBeTruthy();
    const named = await ifan('predict', join(fixtures, 'one-face.jpg'), '--model', 'landmarks', '--out', join(out, 'named'));
    expect(named.code).toBe(0);
    expect(named.err).not.toMatch(/pretrained/);
    const missing = await ifan('predict', join(fixtures, 'one-face.jpg'), '--model', 'no-such-model');
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/no pretrained model named "no-such-model" \(shipped: .*landmarks/);
  });

  it('a folder: every readable photo gets results (0 faces is a result), an unreadable one is listed with its reason', async () => {
    const dir = tempDir();
    const photos = join(dir, 'photos');
    mkdirSync(photos);
    for (const f of ['one-face.jpg', 'three-faces.jpg', 'no-face.jpg']) copyFileSync(join(fixtures, f), join(photos, f));
    writeFileSync(join(photos, 'broken.jpg'), 'not a jpeg');
    const out = join(dir, 'out');
    const r = await ifan('predict', photos, '--model', modelDir, '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/one-face\.jpg: 1 face\n/);
    expect(r.out).toMatch(/three-faces\.jpg: 3 faces\n/);
    expect(r.out).toMatch(/no-face\.jpg: 0 faces\n/);
    expect(r.err).toMatch(/skipped 1 file .*:\n {2}.*broken\.jpg: .+/);
    expect(r.err).toMatch(/3 photos, 4 faces; no face found in 1 photo \(no-face\.jpg\): for images that are already face crops use --no-detect/);
    expect(JSON.parse(readFileSync(join(out, 'no-face.json'), 'utf8'))).toMatchObject({ faceCount: 0, faces: [] });
    expect(existsSync(join(out, 'no-face.overlay.png'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'skipped.json'), 'utf8'))[0].file).toMatch(/broken\.jpg$/);
  });

  it('--box and --boxes skip detection: one result per box, even where no face is seen', async () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const r = await ifan('predict', join(fixtures, 'no-face.jpg'), '--model', modelDir, '--out', out, '--box', '10,20,60,60', '--box', '100,30,50,50');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/no-face\.jpg: 2 faces \(given boxes\)/);
    const json = JSON.parse(readFileSync(join(out, 'no-face.json'), 'utf8'));
    expect(json.source).toBe('boxes');
    expect(json.faces.map((f: { box: number[]; score: null }) => [f.box, f.score])).toEqual([[[10, 20, 60, 60], null], [[100, 30, 50, 50], null]]);
    const boxes = join(dir, 'boxes.json');
    writeFileSync(boxes, JSON.stringify({ 'no-face.jpg': [[5, 5, 40, 40]] }));
    const r2 = await ifan('predict', join(fixtures, 'no-face.jpg'), '--model', modelDir, '--out', out, '--boxes', boxes);
    expect(r2.out).toMatch(/no-face\.jpg: 1 face \(given boxes\)/);
  });

  it('--max-faces keeps the best faces, --min-score drops weak ones', async () => {
    const out = join(tempDir(), 'out');
    const two = await ifan('predict', join(fixtures, 'three-faces.jpg'), '--model', modelDir, '--out', out, '--max-faces', '2');
    expect(two.out).toMatch(/three-faces\.jpg: 2 faces\n/);
    const scores = JSON.parse(readFileSync(join(out, 'three-faces.json'), 'utf8')).faces.map((f: { score: number }) => f.score);
    expect(scores[0]).toBeGreaterThanOrEqual(scores[1]);
    const none = await ifan('predict', join(fixtures, 'three-faces.jpg'), '--model', modelDir, '--out', out, '--min-score', '0.99');
    expect(none.out).toMatch(/three-faces\.jpg: 0 faces\n/);
    expect(none.code).toBe(0);
  });

  it('--no-detect takes each image as one face (the centred square), as before', async () => {
    const out = join(tempDir(), 'out');
    const r = await ifan('predict', join(fixtures, 'one-face.jpg'), '--model', modelDir, '--out', out, '--no-detect');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/1 image\(s\), each taken as one face \(--no-detect\)/);
    expect(JSON.parse(readFileSync(join(out, 'one-face.json'), 'utf8')).outputs.landmarks.points).toHaveLength(5);
  });

  it("predictImages decodes through the network's inference path (net.predict, with the crop's transform: the way back)", async () => {
    const calls: InferenceOptions[] = [];
    const predict = model.net.predict;
    model.net.predict = (x, opts = {}) => (calls.push(opts), predict.call(model.net, x, opts));
    try {
      const [r] = await predictImages(model, [join(fixtures, 'one-face.jpg')], { iterations: 0 });
      expect(calls).toHaveLength(1);
      expect(calls[0].iterations).toBe(0);
      expect(calls[0].transforms).toHaveLength(1);
      expect(calls[0].transforms![0].sourceSize).toEqual([r.width, r.height]);
      expect((r.outputs.landmarks as { points: unknown[] }).points).toHaveLength(5);
    } finally {
      model.net.predict = predict;
    }
  });

  it.each([
    [['--box', '1,2,3'], /--box: expected X,Y,W,H/],
    [['--box', '1,2,0,4'], /--box: expected X,Y,W,H in photo pixels with W and H > 0/],
    [['--box', '1,2,3,4', '--no-detect'], /--box and --no-detect exclude each other/],
    [['--box', '1,2,3,4', '--align'], /--align sets up face detection, which --box skips/],
    [['--min-score', '2'], /--min-score: must be from 0 to 1/],
    [['--boxes', '/no/such.json'], /--boxes: \/no\/such\.json does not exist/],
  ])('bad flags %j', async (flags, message) => {
    const r = await ifan('predict', join(fixtures, 'one-face.jpg'), '--model', modelDir, ...flags);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(2);
  });
});

describe('analyzeFaces', () => {
  let detector: Awaited<ReturnType<typeof createDetector>>;
  beforeAll(async () => {
    detector = await createDetector();
  });
  afterAll(() => detector?.dispose());

  it('maps boxes and outputs back to the photo after resizing and moving it', async () => {
    const image = await decodeImage(join(fixtures, 'three-faces.jpg'));
    const k = 2.5;
    const [dx, dy] = [70, 40];
    const big = warpImage(image, composeAffine(scaling(k), translation(dx, dy)), 1300, 700, [90, 90, 90]);
    const a = await analyzeFaces(big, { model, detector });
    expect([a.width, a.height]).toEqual([1300, 700]);
    expect(a.faces).toHaveLength(3);
    const map = (p: [number, number]): [number, number] => [p[0] * k + dx, p[1] * k + dy];
    for (const f of a.faces) expect(bestMatch(f.framingBox, truth['three-faces.jpg'], map).iou).toBeGreaterThan(0.6);
    // given boxes: the same crops of the small and the big photo give the same landmarks, mapped
    const boxes = truth['three-faces.jpg'].map((t) => faceBoxFromKeypoints(t.leftEye, t.rightEye, t.mouth));
    const small = await analyzeFaces(image, { model, boxes, overlay: false });
    const large = await analyzeFaces(big, { model, boxes: boxes.map(([x, y, w, h]) => [x * k + dx, y * k + dy, w * k, h * k] as FaceBox), overlay: false });
    small.faces.forEach((f, i) => {
      const side = boxes[i][2];
      const p = (f.outputs.landmarks as { points: [number, number][] }).points;
      const q = (large.faces[i].outputs.landmarks as { points: [number, number][] }).points;
      p.forEach((pt, j) => {
        const m = map(pt);
        expect(Math.hypot(m[0] - q[j][0], m[1] - q[j][1]) / (side * k)).toBeLessThan(0.03);
      });
    });
  });

  it("reads each task through its own batch-norm key, as it was trained, unless one key is forced", async () => {
    const image = await decodeImage(join(fixtures, 'one-face.jpg'));
    const t = truth['one-face.jpg'][0];
    const boxes = [faceBoxFromKeypoints(t.leftEye, t.rightEye, t.mouth)];
    // a fresh network's keys all hold the initial statistics: give the emotion key its own
    const moved = [...model.net.params.variables].filter(([name]) => name.includes('emotion') && name.endsWith('moving_mean'));
    expect(moved.length).toBeGreaterThan(0);
    const saved = moved.map(([, v]) => v.clone());
    moved.forEach(([, v]) => v.assign(tf.fill(v.shape, 0.3)));
    const own = await analyzeFaces(image, { model, boxes, overlay: false });
    const forced = await analyzeFaces(image, { model, boxes, overlay: false, bnKey: 'parsing' });
    const probs = (r: typeof own) => (r.faces[0].outputs.emotion as { probabilities: number[] }).probabilities;
    // the 3 tasks have 3 keys: emotion read with its own statistics differs from emotion read with parsing's
    expect(probs(own)).not.toEqual(probs(forced));
    const byEmotionKey = await analyzeFaces(image, { model, boxes, overlay: false, bnKey: 'emotion' });
    expect(probs(own)).toEqual(probs(byEmotionKey));
    expect(own.faces[0].outputs.parsing).toEqual(forced.faces[0].outputs.parsing);
    moved.forEach(([, v], i) => v.assign(saved[i]));
    tf.dispose(saved);
  });

  it('a JPEG stored turned with an EXIF orientation: faces where the upright photo has them', async () => {
    const image = await decodeImage(join(fixtures, 'three-faces.jpg'));
    const stored = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
      .rotate(270)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const dir = tempDir();
    writeFileSync(join(dir, 'turned.jpg'), stored);
    const r = await ifan('predict', join(dir, 'turned.jpg'), '--model', modelDir, '--out', join(dir, 'out'));
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'turned.json'), 'utf8'));
    expect([json.width, json.height]).toEqual([480, 240]);
    expect(json.faces).toHaveLength(3);
    for (const f of json.faces) expect(bestMatch(f.framingBox, truth['three-faces.jpg']).iou).toBeGreaterThan(0.6);
  });

  it('align turns a tilted face upright: the crop is rotated by the roll, centre and size kept', async () => {
    const image = await decodeImage(join(fixtures, 'tilted-face.jpg'));
    const plain = await analyzeFaces(image, { model, detector, overlay: false });
    const aligned = await analyzeFaces(image, { model, detector, align: true, overlay: false });
    const [f] = aligned.faces;
    expect(f.aligned).toBe(true);
    expect((f.roll * 180) / Math.PI).toBeGreaterThan(15);
    const edge = Math.atan2(f.crop[1][1] - f.crop[0][1], f.crop[1][0] - f.crop[0][0]);
    expect(edge).toBeCloseTo(f.roll, 6);
    expect(plain.faces[0].aligned).toBe(false);
    const centre = (c: [number, number][]) => [(c[0][0] + c[2][0]) / 2, (c[0][1] + c[2][1]) / 2];
    expect(centre(f.crop)[0]).toBeCloseTo(centre(plain.faces[0].crop)[0], 6);
    // the true eyes are level in the aligned crop
    const t = faceInputTransform(f, [image.width, image.height], model.net.inputSize, model.net.framing, true);
    const tr = truth['tilted-face.jpg'][0];
    const [l, r] = [applyAffine(t.affine, ...tr.leftEye), applyAffine(t.affine, ...tr.rightEye)];
    expect(Math.abs((Math.atan2(r[1] - l[1], r[0] - l[0]) * 180) / Math.PI)).toBeLessThan(8);
  });

  it('frees every tensor it makes, with and without faces; no detector and no boxes is a clear error', async () => {
    const group = await decodeImage(join(fixtures, 'three-faces.jpg'));
    const none = await decodeImage(join(fixtures, 'no-face.jpg'));
    await analyzeFaces(group, { model, detector }); // warm-up (kernels may keep state)
    const before = tf.memory().numTensors;
    const a = await analyzeFaces(group, { model, detector });
    const b = await analyzeFaces(none, { model, detector });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.faces).toHaveLength(3);
    expect(b.faces).toEqual([]);
    expect((b.overlay as RawImage).data).toEqual(none.data);
    await expect(analyzeFaces(group, { model })).rejects.toThrow(/pass a detector .* or boxes/);
  });

  it("label maps placed from each face's region equal those decoded into the whole photo", async () => {
    const image = await decodeImage(join(fixtures, 'three-faces.jpg'));
    const faces = await detector.detect(image);
    const drawn = await analyzeFaces(image, { model, detector, align: true });
    const direct = await analyzeFaces(image, { model, boxes: undefined, detector: { detect: async () => faces }, align: true, overlay: false });
    type Out = { parsing: { mask: { width: number; height: number; data: Uint8Array } }; landmarks: { points: number[][] } };
    drawn.faces.forEach((f, i) => {
      const a = f.outputs as unknown as Out;
      const b = direct.faces[i].outputs as unknown as Out;
      expect([a.parsing.mask.width, a.parsing.mask.height]).toEqual([480, 240]);
      expect(Buffer.from(a.parsing.mask.data).equals(Buffer.from(b.parsing.mask.data))).toBe(true);
      expect(a.landmarks.points).toEqual(b.landmarks.points);
    });
  });

  it('a missing detector package is named with what to install or do instead', async () => {
    await expect(importDetectPackage('@ifan/no-such-detector/node')).rejects.toThrow(
      /needs the face detector package @ifan\/detect, which is not installed .*npm install @ifan\/detect.*--box x,y,w,h.*--no-detect/,
    );
  });
});
