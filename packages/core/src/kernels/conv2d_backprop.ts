import * as tf from '@tensorflow/tfjs-core';
import { compositeKernel, type KernelScope } from './composite';
import { channelMajorPadded, padBottomRight, rotatedFilter } from './wasm_memory';

type TensorInfo = tf.TensorInfo;
type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/**
 * Attributes of the Conv2DBackpropFilter / Conv2DBackpropInput kernels. `dilations` is not a tfjs
 * attribute (tfjs's conv2d gradient rejects dilated convolutions); these kernels accept it so that a
 * gradient of a dilated convolution can be asked for through `runKernel`. Default 1.
 */
interface ConvGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

export interface Conv2DBackpropFilterAttrs extends ConvGradAttrs {
  filterShape: Shape4;
}

export interface Conv2DBackpropInputAttrs extends ConvGradAttrs {
  inputShape: Shape4;
}

interface Geometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  dH: number;
  dW: number;
  top: number;
  left: number;
}

function geometry(inShapeNHWC: Shape4, filterShape: Shape4, a: ConvGradAttrs): Geometry {
  const info = tf.backend_util.computeConv2DInfo(
    inShapeNHWC,
    filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    sH: info.strideHeight,
    sW: info.strideWidth,
    dH: info.dilationHeight,
    dW: info.dilationWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

const toNHWC = [0, 2, 3, 1];
const toNCHW = [0, 3, 1, 2];
function nhwcShape(shape: Shape4, format: ConvGradAttrs['dataFormat']): Shape4 {
  return format === 'NCHW' ? [shape[0], shape[2], shape[3], shape[1]] : shape;
}

function checkShape(what: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((v, i) => v !== want[i])) {
    throw new Error(`${what} has shape [${got.join(',')}] but the convolution needs [${want.join(',')}]`);
  }
}

/**
 * How the weight gradient is computed: `conv`, one forward convolution ({@link filterGradByConv});
 * `matmul`, one matrix product per filter tap on a copied window of dy ({@link filterGradByMatMul},
 * stride 1 only); `shifted`, one matrix product per tap on a shifted view of the channel-major input,
 * no copy per tap ({@link filterGradByShiftedViews}, stride 1, wasm only); `auto`, for a stride-1
 * convolution with at least {@link MATMUL_MIN_IN_CHANNELS} input channels shifted on wasm and matmul
 * elsewhere, conv otherwise (the 3-channel stem, strides: a product with a handful of rows is slow). `auto` is what measured fastest on wasm
 * (`bench/kernels.ts`, `bench/ab-step.ts`); on cpu the backend's matrix product is slower than its
 * convolution, so `conv`.
 */
export type FilterGradMethod = 'auto' | 'conv' | 'matmul' | 'shifted';

export function conv2dBackpropFilter(
  s: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  a: Conv2DBackpropFilterAttrs,
  method: FilterGradMethod = 'auto',
): TensorInfo {
  const nchw = a.dataFormat === 'NCHW';
  const g = geometry(nhwcShape(x.shape as Shape4, a.dataFormat), a.filterShape, a);
  checkShape('Conv2DBackpropFilter dy', nhwcShape(dy.shape as Shape4, a.dataFormat), [g.batch, g.outH, g.outW, g.outC]);
  const stride1 = g.sH === 1 && g.sW === 1;
  if (stride1 && s.backendName === 'wasm' && (method === 'shifted' || (method === 'auto' && g.inC >= MATMUL_MIN_IN_CHANNELS))) {
    return filterGradByShiftedViews(s, nchw ? s.transpose(x, toNHWC) : x, nchw ? s.transpose(dy, toNHWC) : dy, g);
  }
  if (stride1 && (method === 'matmul' || (method === 'auto' && g.inC >= MATMUL_MIN_IN_CHANNELS))) {
    return filterGradByMatMul(s, nchw ? s.transpose(x, toNHWC) : x, nchw ? s.transpose(dy, toNHWC) : dy, g);
  }
  return filterGradByConv(s, x, dy, g, nchw);
}

/** Below this many input channels the per-tap matrix products are too narrow to pay. */
export const MATMUL_MIN_IN_CHANNELS = 8;

/**
 * Weight gradient of a stride-1 convolution as one matrix product per tap (i, j):
 *
 *   dW[i, j]^T = A_ij [o, b*H*W] @ x [b*H*W, c],   A_ij[o, b, h, w] = dy[b, h + top - i*dH, w + left - j*dW, o]
 *
 * A_ij is a window of dy transposed to [o, b, H', W'] and zero-padded once. x is the right-hand side of
 * every product: the wasm backend packs it once and caches the packing under the tensor's id until that
 * tensor is freed, so it gets a private copy here, freed (with its packing) when the kernel returns;
 * packing the activation itself would keep a second copy of every activation alive to the step's end.
 */
function filterGradByMatMul(s: KernelScope, x: TensorInfo, dy: TensorInfo, g: Geometry): TensorInfo {
  const padTop = Math.max(0, (g.kH - 1) * g.dH - g.top);
  const padLeft = Math.max(0, (g.kW - 1) * g.dW - g.left);
  const padBottom = Math.max(0, g.inH - 1 + g.top - (g.outH - 1));
  const padRight = Math.max(0, g.inW - 1 + g.left - (g.outW - 1));
  const dyT = s.pad(s.transpose(dy, [3, 0, 1, 2]), [
    [0, 0],
    [0, 0],
    [padTop, padBottom],
    [padLeft, padRight],
  ]);
  const p = g.batch * g.inH * g.inW;
  const x2 = s.reshape(s.copy(x), [p, g.inC]);
  const taps: TensorInfo[] = [];
  for (let i = 0; i < g.kH; i++) {
    for (let j = 0; j < g.kW; j++) {
      const win = s.slice(dyT, [0, 0, padTop + g.top - i * g.dH, padLeft + g.left - j * g.dW], [g.outC, g.batch, g.inH, g.inW]);
      const prod = s.run('BatchMatMul', { a: s.reshape(win, [g.outC, p]), b: x2 }, { transposeA: false, transposeB: false });
      taps.push(s.reshape(prod, [1, g.outC, g.inC]));
    }
  }
  const stacked = taps.length === 1 ? taps[0] : s.run('Concat', taps as unknown as Record<string, TensorInfo>, { axis: 0 });
  return s.transpose(s.reshape(stacked, [g.kH, g.kW, g.outC, g.inC]), [0, 1, 3, 2]);
}

/**
 * Weight gradient of a stride-1 convolution as one matrix product per tap (i, j), with no copy per tap
 * (wasm only):
 *
 *   dW[i, j] [c, o] = X_ij [c, Q] @ D [Q, o]
 *
 * Both operands live on one padded grid of Q = b*Hp*Wp positions. D is dy zero-padded at the bottom
 * and right to [b, Hp, Wp, o]; X is the input transposed to channel-major and zero-padded to
 * [c (+1 zero row), b, Hp, Wp]. Moving a position by the tap (i*dH rows, j*dW columns) moves its flat
 * index by s = i*dH*Wp + j*dW, so X_ij is X read from element s on: a view of the same buffer, not
 * a copy. A row of X_ij runs s elements into the next channel's row, where D's rows are zero (padding
 * positions), so they add nothing; the extra zero row backs the last row's overrun. D is the matrix
 * product's packed operand: the wasm backend packs it once and reuses the packing for every tap.
 */
function filterGradByShiftedViews(s: KernelScope, x: TensorInfo, dy: TensorInfo, g: Geometry): TensorInfo {
  if (g.kH === 1 && g.kW === 1 && g.top === 0 && g.left === 0 && g.outC > g.inC) return pointwiseFilterGradWide(s, x, dy, g);
  const hp = Math.max(g.inH + g.top, g.outH + (g.kH - 1) * g.dH);
  const wp = Math.max(g.inW + g.left, g.outW + (g.kW - 1) * g.dW);
  const q = g.batch * hp * wp;
  const made = channelMajorPadded(s.backend, x, hp, wp, g.top, g.left, 1);
  const xt = made ? s.adopt(made) : s.pad(s.transpose(x, [3, 0, 1, 2]), [
    [0, 1],
    [0, 0],
    [g.top, hp - g.inH - g.top],
    [g.left, wp - g.inW - g.left],
  ]);
  const padded = padBottomRight(s.backend, dy, hp, wp);
  const d = s.reshape(
    padded
      ? s.adopt(padded)
      : s.pad(dy, [
          [0, 0],
          [0, hp - g.outH],
          [0, wp - g.outW],
          [0, 0],
        ]),
    [1, q, g.outC],
  );
  const shifts: number[] = [];
  for (let i = 0; i < g.kH; i++) for (let j = 0; j < g.kW; j++) shifts.push(i * g.dH * wp + j * g.dW);
  const taps = shifts.map((shift) => s.run('BatchMatMul', { a: s.view(xt, shift, [1, g.inC, q]), b: d }, { transposeA: false, transposeB: false }));
  const stacked = taps.length === 1 ? taps[0] : s.run('Concat', taps as unknown as Record<string, TensorInfo>, { axis: 0 });
  return s.reshape(stacked, [g.kH, g.kW, g.inC, g.outC]);
}

/**
 * Weight gradient of an unpadded stride-1 1x1 convolution with more output than input channels (the
 * sub-pixel upsampling's 4x widening, the integrator's projections): the product the other way round,
 * dW^T [o, c] = dy^T [o, Q] @ x [Q, c]. The matrix kernel is fast with many rows and few columns and
 * several times slower the other way (2-3 GFLOP/s for 24 rows x 120 columns).
 */
function pointwiseFilterGradWide(s: KernelScope, x: TensorInfo, dy: TensorInfo, g: Geometry): TensorInfo {
  const q = g.batch * g.inH * g.inW;
  const made = channelMajorPadded(s.backend, dy, g.outH, g.outW, 0, 0, 0);
  const dyt = made ? s.adopt(made) : s.transpose(dy, [3, 0, 1, 2]);
  const prod = s.run('BatchMatMul', { a: s.reshape(dyt, [1, g.outC, q]), b: s.reshape(x, [1, q, g.inC]) }, { transposeA: false, transposeB: false });
  return s.reshape(s.transpose(s.reshape(prod, [g.outC, g.inC]), [1, 0]), [1, 1, g.inC, g.outC]);
}

/**
 * Weight gradient as one forward convolution (NHWC):
 *
 *   dW[i, j, c, o] = sum_{b, y, x} xp[b, y*sH + i*dH, x*sW + j*dW, c] * dy[b, y, x, o]
 *
 * is a convolution of the input seen as [c, H, W, b] (channels become the batch, the batch becomes
 * the channels) with dy seen as the filter [y, x, b, o]: the forward stride becomes the filter's
 * dilation and the forward dilation becomes the stride. Its output [c, i, j, o] is transposed to
 * [i, j, c, o]. Only the two transposes move data; the multiply-adds run in the backend's Conv2D.
 */
function filterGradByConv(s: KernelScope, x: TensorInfo, dy: TensorInfo, g: Geometry, nchw: boolean): TensorInfo {
  // [b, H, W, c] -> [c, H, W, b]; [b, y, x, o] -> [y, x, b, o].
  const xt = s.transpose(x, nchw ? [1, 2, 3, 0] : [3, 1, 2, 0]);
  const f = s.transpose(dy, nchw ? [2, 3, 0, 1] : [1, 2, 0, 3]);
  // Rows of the padded input the convolution reads: (kH-1)*dH + (outH-1)*sH + 1 from `top` on.
  const needH = (g.kH - 1) * g.dH + (g.outH - 1) * g.sH + 1;
  const needW = (g.kW - 1) * g.dW + (g.outW - 1) * g.sW + 1;
  const bottom = Math.max(0, needH - g.top - g.inH);
  const right = Math.max(0, needW - g.left - g.inW);
  const conv = s.run(
    'Conv2D',
    { x: xt, filter: f },
    {
      strides: [g.dH, g.dW],
      dilations: [g.sH, g.sW],
      pad: [
        [0, 0],
        [g.top, bottom],
        [g.left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  );
  const cropped = s.slice(conv, [0, 0, 0, 0], [g.inC, g.kH, g.kW, g.outC]);
  return s.transpose(cropped, [1, 2, 0, 3]);
}

/**
 * Input gradient as one forward convolution (NHWC): dy is dilated by the stride (zeros inserted
 * between its rows and columns; nothing to do for stride 1), padded by (k-1)*d - pad, and convolved
 * with the filter rotated by 180 degrees and with its channel axes swapped:
 *
 *   dx[b, h, w, c] = sum_{i, j, o} z[b, h + top - i*dH, w + left - j*dW, o] * W[i, j, c, o]
 */
export function conv2dBackpropInput(s: KernelScope, dy: TensorInfo, filter: TensorInfo, a: Conv2DBackpropInputAttrs): TensorInfo {
  const nchw = a.dataFormat === 'NCHW';
  const xs = nhwcShape(a.inputShape, a.dataFormat);
  const g = geometry(xs, filter.shape as Shape4, a);
  const dyN = nchw ? s.transpose(dy, toNHWC) : dy;
  checkShape('Conv2DBackpropInput dy', dyN.shape, [g.batch, g.outH, g.outW, g.outC]);
  let z = dilate(s, dyN, g.sH, g.sW);
  // z now has outH*sH rows; the last sH-1 are zeros that the bottom padding may use or drop.
  let top = (g.kH - 1) * g.dH - g.top;
  let left = (g.kW - 1) * g.dW - g.left;
  let bottom = g.inH + g.top - (g.outH - 1) * g.sH - 1 - (g.sH - 1);
  let right = g.inW + g.left - (g.outW - 1) * g.sW - 1 - (g.sW - 1);
  if (top < 0 || left < 0 || bottom < 0 || right < 0) {
    const [, zh, zw] = z.shape;
    const y0 = Math.max(0, -top);
    const x0 = Math.max(0, -left);
    const y1 = zh - Math.max(0, -bottom);
    const x1 = zw - Math.max(0, -right);
    z = s.slice(z, [0, y0, x0, 0], [g.batch, y1 - y0, x1 - x0, g.outC]);
    [top, left, bottom, right] = [top, left, bottom, right].map((p) => Math.max(0, p));
  }
  const made = s.backendName === 'wasm' ? rotatedFilter(s.backend, filter) : null;
  const w = made ? s.adopt(made) : s.transpose(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
  const dx = s.run(
    'Conv2D',
    { x: z, filter: w },
    {
      strides: 1,
      dilations: [g.dH, g.dW],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  );
  checkShape('Conv2DBackpropInput result', dx.shape, xs);
  return nchw ? s.transpose(dx, toNCHW) : dx;
}

/** Inserts sH-1 zero rows after every row and sW-1 zero columns after every column. */
function dilate(s: KernelScope, x: TensorInfo, sH: number, sW: number): TensorInfo {
  const [b, h, w, c] = x.shape;
  let z = x;
  if (sH > 1) {
    const r = s.reshape(z, [b * h, 1, w * c]);
    z = s.reshape(s.pad(r, [[0, 0], [0, sH - 1], [0, 0]]), [b, h * sH, w, c]);
  }
  if (sW > 1) {
    const hz = z.shape[1];
    const r = s.reshape(z, [b * hz * w, 1, c]);
    z = s.reshape(s.pad(r, [[0, 0], [0, sW - 1], [0, 0]]), [b, hz, w * sW, c]);
  }
  return z;
}

export function conv2dBackpropFilterKernel(backendName: string, method: FilterGradMethod = 'auto'): tf.KernelConfig {
  return compositeKernel<Conv2DBackpropFilterAttrs>('Conv2DBackpropFilter', backendName, (s, { x, dy }, a) =>
    conv2dBackpropFilter(s, x, dy, a, method),
  );
}

export function conv2dBackpropInputKernel(backendName: string): tf.KernelConfig {
  return compositeKernel<Conv2DBackpropInputAttrs>('Conv2DBackpropInput', backendName, (s, { dy, filter }, a) =>
    conv2dBackpropInput(s, dy, filter, a),
  );
}
