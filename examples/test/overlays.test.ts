import { composeOverlays, type RawImage } from '@ifan/core';
import { describe, expect, it } from 'vitest';
import { emotionTask } from '@ifan/task-emotion';
import { parsingTask, FASSEG_6 } from '@ifan/task-parsing';
import { landmarkTask } from '@ifan/task-landmarks';

const grey = (w: number, h: number): RawImage => ({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).fill(100) });
const px = (im: RawImage, x: number, y: number) => Array.from(im.data.slice((y * im.width + x) * 3, (y * im.width + x) * 3 + 3));

describe('overlays', () => {
  it('draws every task into one picture without touching the input', () => {
    const image = grey(40, 40);
    const mask = { width: 40, height: 40, data: new Uint8Array(1600) };
    mask.data.fill(2, 0, 400); // top quarter: skin (FASSEG class 2, yellow)
    const parsing = parsingTask({ labelSet: FASSEG_6 });
    const landmarks = landmarkTask();
    const emotion = emotionTask();
    const out = composeOverlays(
      image,
      {
        parsing: { mask },
        landmarks: { points: [[20, 20], [30, 20], [25, 25], [20, 30], [30, 30]] },
        emotion: { classIndex: 3, className: 'happy', probabilities: [0, 0, 0, 1, 0, 0, 0] },
      },
      [parsing, landmarks, emotion],
    );
    expect(px(image, 5, 5)).toEqual([100, 100, 100]);
    // skin blended half-and-half with FASSEG's yellow (255, 255, 0)
    expect(px(out, 5, 5)).toEqual([178, 178, 50]);
    // first point: a red disk
    expect(px(out, 20, 20)).toEqual([255, 64, 64]);
    // emotion bar of class 3 (full height) at the bottom edge in its colour
    const barW = Math.floor(40 / 7);
    expect(px(out, 3 * barW + 1, 39)).toEqual([250, 200, 40]);
    // a pixel no task drew on is unchanged
    expect(px(out, 38, 15)).toEqual([100, 100, 100]);
  });
});
