/**
 * The shipped models on a real photo (issue 17): `pretrainedPhoto` on the committed
 * docs/photos/sample6.jpg (face-api's MIT-licensed demo photo, 4 faces) with the real BlazeFace
 * detector and every shipped model; the demo's photo step and how it skips.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage } from '@ifan/core/node';
import { createDetector } from '@ifan/detect/node';
import { loadPretrained, PRETRAINED, pretrainedInfo } from '@ifan/models/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli';
import { DEMO_PHOTO, demoPretrainedPhoto } from '../src/demo';
import { importDetectPackage } from '../src/faces';
import { describeFace, encodeJpeg, pretrainedPhoto, type PretrainedPhotoResult } from '../src/pretrained-photo';
import { tempDir, useBackend } from './helpers';

let detector: Awaited<ReturnType<typeof createDetector>>;
let photo: Awaited<ReturnType<typeof decodeImage>>;
let result: PretrainedPhotoResult;
beforeAll(async () => {
  await useBackend();
  detector = await createDetector();
  photo = await decodeImage(DEMO_PHOTO);
  result = await pretrainedPhoto(photo, { detector });
});
afterAll(() => detector?.dispose());

describe('pretrainedPhoto', () => {
  it('the committed photo: 1000 px wide, 4 faces, one row per shipped model of the picture\'s width', () => {
    expect([photo.width, photo.height]).toEqual([1000, 801]);
    expect(result.models).toEqual(PRETRAINED.map((m) => m.name));
    expect(result.faces).toHaveLength(4);
    expect(result.rowHeights).toHaveLength(PRETRAINED.length);
    const picture = result.picture!;
    expect(picture.width).toBe(1000);
    expect(picture.height).toBe(result.rowHeights.reduce((a, h) => a + h, 0));
    expect(picture.data.length).toBe(picture.width * picture.height * 3);
    // every row is the same part of the photo (wider than tall: the 4 faces are side by side), scaled to 1000 px
    for (const h of result.rowHeights) expect(h).toBe(result.rowHeights[0]);
    expect(result.rowHeights[0]).toBeGreaterThan(200);
    expect(result.rowHeights[0]).toBeLessThan(1000);
  });

  it('a summary per face and model: emotion names of the model\'s label set, 5 landmarks, parsing shares', async () => {
    const emotion = await loadPretrained('emotion');
    const classes = (emotion.plugins[0].config as { classes: string[] }).classes;
    emotion.net.dispose();
    for (const face of result.faces) {
      expect(face.models.map((m) => m.model)).toEqual(result.models);
      for (const m of face.models) {
        // every task of the model is summarised, whether it has one task or all three (ifan-3t)
        const tasks = pretrainedInfo(m.model).tasks;
        expect(['emotion', 'landmarks', 'parsing'].filter((t) => m[t as 'emotion' | 'landmarks' | 'parsing'] !== undefined)).toEqual([...tasks].sort());
        if (m.emotion) {
          expect(classes).toContain(m.emotion.className);
          expect(m.emotion.probability).toBeGreaterThan(1 / classes.length);
          expect(m.emotion.probability).toBeLessThanOrEqual(1);
        }
        if (m.landmarks) expect(m.landmarks).toEqual({ points: 5 });
        if (m.parsing) {
          expect(m.parsing.classes).toBe(19);
          expect(m.parsing.faceShare).toBeGreaterThan(0.15);
          expect(m.parsing.faceShare).toBeLessThan(0.8);
          expect(m.parsing.classesSeen).toBeGreaterThan(5);
        }
      }
      const part = '(\\w+ \\d+%|5 points|face parts \\d+% of the crop, \\d+ of 19 classes)';
      const models = result.models.map((name) => `${name}: ${part}(, ${part})*`).join('; ');
      expect(describeFace(face)).toMatch(new RegExp(`^#${face.index + 1} \\(x \\d+, y \\d+, \\d+ px\\): ${models}$`));
    }
    expect(describeFace(result.faces[0])).toMatch(/; emotion: \w+ \d+%; landmarks: 5 points; parsing: face parts \d+% of the crop, \d+ of 19 classes$/);
  });

  it('leaves no tensor behind; JPEG of the picture; a photo without a face is no picture', async () => {
    const before = tf.memory().numTensors;
    const all = await pretrainedPhoto(photo, { detector });
    expect(tf.memory().numTensors).toBe(before);
    expect(all.faces).toEqual(result.faces);
    const again = await pretrainedPhoto(photo, { detector, models: ['landmarks'] });
    expect(tf.memory().numTensors).toBe(before);
    expect(again.models).toEqual(['landmarks']);
    expect(again.faces.map((f) => f.models.map((m) => m.text))).toEqual(result.faces.map(() => ['5 points']));
    const jpeg = await encodeJpeg(again.picture!);
    const meta = await sharp(jpeg).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1000, again.rowHeights[0]]);
    const blank = { width: 200, height: 160, channels: 3 as const, data: new Uint8Array(200 * 160 * 3).fill(128) };
    const none = await pretrainedPhoto(blank, { detector });
    expect(none).toEqual({ models: PRETRAINED.map((m) => m.name), faces: [], picture: null, rowHeights: [] });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("the demo's photo step", () => {
  it('writes pretrained.jpg and a section naming the photo, the faces and what each model says of each', async () => {
    const out = tempDir();
    const lines: string[] = [];
    const r = await demoPretrainedPhoto({ outDir: out, log: (l) => lines.push(l), loadDetector: async () => ({ detect: (i, o) => detector.detect(i, o), dispose: () => undefined }) });
    expect(lines).toEqual([expect.stringMatching(/^demo: the shipped models of @ifan\/models on a real photo \(.*sample6\.jpg\)$/)]);
    expect(r!.faces).toBe(4);
    expect(r!.picture).toBe(join(out, 'pretrained.jpg'));
    expect(existsSync(r!.picture!)).toBe(true);
    expect(r!.markdown).toMatch(new RegExp(`^\\*\\*The shipped models on a real photo\\*\\* \\(${PRETRAINED.map((m) => m.name).join(', ')} of @ifan/models; .*sample6\\.jpg, 1000x801\\): 4 faces found, one row per model in pretrained\\.jpg`));
    expect(r!.markdown.split('\n').filter((l) => l.startsWith('- #'))).toHaveLength(4);
  });

  it('skips with one line saying how to give a photo when the photo does not exist; photo: false skips silently', async () => {
    const out = tempDir();
    const lines: string[] = [];
    const missing = join(out, 'no-such-photo.jpg');
    expect(await demoPretrainedPhoto({ photo: missing, outDir: out, log: (l) => lines.push(l) })).toBeNull();
    expect(lines).toEqual([`demo: shipped models on a real photo skipped: ${missing} does not exist; give an image of faces with --photo FILE (photo in runDemo), or --no-photo`]);
    expect(existsSync(join(out, 'pretrained.jpg'))).toBe(false);
    lines.length = 0;
    expect(await demoPretrainedPhoto({ photo: false, outDir: out, log: (l) => lines.push(l) })).toBeNull();
    expect(lines).toEqual([]);
  });

  it('skips with one line when @ifan/detect is not installed, or when the photo is not an image', async () => {
    const out = tempDir();
    const lines: string[] = [];
    const r = await demoPretrainedPhoto({ outDir: out, log: (l) => lines.push(l), loadDetector: async () => (await importDetectPackage('@ifan/no-such-detector')).createDetector() });
    expect(r).toBeNull();
    expect(lines).toEqual(['demo: shipped models on a real photo skipped: finding the faces needs @ifan/detect, which is not installed (npm install @ifan/detect)']);
    lines.length = 0;
    writeFileSync(join(out, 'text.jpg'), 'not an image');
    const fake = { detect: async () => [], dispose: () => undefined };
    expect(await demoPretrainedPhoto({ photo: join(out, 'text.jpg'), outDir: out, log: (l) => lines.push(l), loadDetector: async () => fake })).toBeNull();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^demo: shipped models on a real photo skipped: .*text\.jpg cannot be read as an image \(.*\); give another with --photo FILE$/);
  });

  it('ifan demo --help names --photo and --no-photo', async () => {
    let out = '';
    expect(await main(['demo', '--help'], { stdout: (s) => void (out += s), stderr: () => undefined })).toBe(0);
    expect(out).toMatch(/^ {2}--photo <file>\s+a photo of real faces/m);
    expect(out).toMatch(/^ {2}--no-photo\s+skip/m);
  });
});
