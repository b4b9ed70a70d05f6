/**
 * Small drawing helpers for overlays, on RGB bytes and without a font library (so an overlay looks the
 * same on every machine and in a browser): a 5 x 7 bitmap font for labels, lines, and copying a
 * rectangle out of and back into an image.
 */
import type { RawImage } from '@ifan/core';

type RGB = readonly [number, number, number];

/** 5 x 7 glyphs, one string of 7 rows of 5 bits each; lower case is drawn as upper case. */
const GLYPHS: Record<string, string> = {
  A: '01110 10001 10001 11111 10001 10001 10001',
  B: '11110 10001 10001 11110 10001 10001 11110',
  C: '01110 10001 10000 10000 10000 10001 01110',
  D: '11110 10001 10001 10001 10001 10001 11110',
  E: '11111 10000 10000 11110 10000 10000 11111',
  F: '11111 10000 10000 11110 10000 10000 10000',
  G: '01110 10001 10000 10111 10001 10001 01111',
  H: '10001 10001 10001 11111 10001 10001 10001',
  I: '01110 00100 00100 00100 00100 00100 01110',
  J: '00111 00010 00010 00010 00010 10010 01100',
  K: '10001 10010 10100 11000 10100 10010 10001',
  L: '10000 10000 10000 10000 10000 10000 11111',
  M: '10001 11011 10101 10101 10001 10001 10001',
  N: '10001 10001 11001 10101 10011 10001 10001',
  O: '01110 10001 10001 10001 10001 10001 01110',
  P: '11110 10001 10001 11110 10000 10000 10000',
  Q: '01110 10001 10001 10001 10101 10010 01101',
  R: '11110 10001 10001 11110 10100 10010 10001',
  S: '01111 10000 10000 01110 00001 00001 11110',
  T: '11111 00100 00100 00100 00100 00100 00100',
  U: '10001 10001 10001 10001 10001 10001 01110',
  V: '10001 10001 10001 10001 10001 01010 00100',
  W: '10001 10001 10001 10101 10101 10101 01010',
  X: '10001 10001 01010 00100 01010 10001 10001',
  Y: '10001 10001 10001 01010 00100 00100 00100',
  Z: '11111 00001 00010 00100 01000 10000 11111',
  '0': '01110 10001 10011 10101 11001 10001 01110',
  '1': '00100 01100 00100 00100 00100 00100 01110',
  '2': '01110 10001 00001 00010 00100 01000 11111',
  '3': '11111 00010 00100 00010 00001 10001 01110',
  '4': '00010 00110 01010 10010 11111 00010 00010',
  '5': '11111 10000 11110 00001 00001 10001 01110',
  '6': '00110 01000 10000 11110 10001 10001 01110',
  '7': '11111 00001 00010 00100 01000 01000 01000',
  '8': '01110 10001 10001 01110 10001 10001 01110',
  '9': '01110 10001 10001 01111 00001 00010 01100',
  '.': '00000 00000 00000 00000 00000 01100 01100',
  ',': '00000 00000 00000 00000 01100 00100 01000',
  ':': '00000 01100 01100 00000 01100 01100 00000',
  '%': '11000 11001 00010 00100 01000 10011 00011',
  '#': '01010 01010 11111 01010 11111 01010 01010',
  '-': '00000 00000 00000 11111 00000 00000 00000',
  '_': '00000 00000 00000 00000 00000 00000 11111',
  '/': '00000 00001 00010 00100 01000 10000 00000',
  '(': '00010 00100 01000 01000 01000 00100 00010',
  ')': '01000 00100 00010 00010 00010 00100 01000',
  '?': '01110 10001 00001 00010 00100 00000 00100',
  ' ': '00000 00000 00000 00000 00000 00000 00000',
};

const GLYPH_W = 5;
const GLYPH_H = 7;

/** Width and height in pixels of `text` drawn by {@link drawText} at `scale`. */
export function textSize(text: string, scale: number): [number, number] {
  return [text.length === 0 ? 0 : (text.length * (GLYPH_W + 1) - 1) * scale, GLYPH_H * scale];
}

function put(image: RawImage, x: number, y: number, c: RGB, alpha = 1): void {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  const o = (y * image.width + x) * 3;
  for (let k = 0; k < 3; k++) image.data[o + k] = alpha === 1 ? c[k] : Math.round(image.data[o + k] * (1 - alpha) + c[k] * alpha);
}

/**
 * Draws `text` (upper case; characters without a glyph as `?`) in place, its top left at `(x, y)`,
 * each font pixel `scale` x `scale`, on a box of `background` (half transparent) one font pixel wider
 * on every side. Clipped to the image.
 */
export function drawText(image: RawImage, text: string, x: number, y: number, options: { scale?: number; color?: RGB; background?: RGB | null } = {}): void {
  const s = Math.max(1, Math.round(options.scale ?? 1));
  const color = options.color ?? [255, 255, 255];
  const [w, h] = textSize(text, s);
  if (options.background !== null) {
    const bg = options.background ?? [0, 0, 0];
    for (let j = y - s; j < y + h + s; j++) for (let i = x - s; i < x + w + s; i++) put(image, i, j, bg, 0.6);
  }
  [...text.toUpperCase()].forEach((ch, n) => {
    const rows = (GLYPHS[ch] ?? GLYPHS['?']).split(' ');
    const x0 = x + n * (GLYPH_W + 1) * s;
    for (let r = 0; r < GLYPH_H; r++) {
      for (let c = 0; c < GLYPH_W; c++) {
        if (rows[r][c] !== '1') continue;
        for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) put(image, x0 + c * s + dx, y + r * s + dy, color);
      }
    }
  });
}

/** A line `width` pixels thick from `a` to `b`, in place. */
export function drawLine(image: RawImage, a: readonly [number, number], b: readonly [number, number], color: RGB, width = 1): void {
  const steps = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) * 2));
  const r = (width - 1) / 2;
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    const x = a[0] + (b[0] - a[0]) * t - 0.5;
    const y = a[1] + (b[1] - a[1]) * t - 0.5;
    for (let dy = Math.floor(-r); dy <= Math.ceil(r); dy++) for (let dx = Math.floor(-r); dx <= Math.ceil(r); dx++) put(image, Math.round(x + dx), Math.round(y + dy), color);
  }
}

/** An integer rectangle `[x, y, w, h]` inside an image. */
export type PixelRect = [number, number, number, number];

/** The pixels of `rect` as an image of their own. */
export function cutRect(image: RawImage, [x, y, w, h]: PixelRect): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let j = 0; j < h; j++) data.set(image.data.subarray(((y + j) * image.width + x) * 3, ((y + j) * image.width + x + w) * 3), j * w * 3);
  return { width: w, height: h, channels: 3, data };
}

/** Writes `part` back into `image` at `rect`'s place, in place. */
export function pasteRect(image: RawImage, part: RawImage, [x, y, w, h]: PixelRect): void {
  for (let j = 0; j < h; j++) image.data.set(part.data.subarray(j * w * 3, (j + 1) * w * 3), ((y + j) * image.width + x) * 3);
}
