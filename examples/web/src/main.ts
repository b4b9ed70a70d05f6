/**
 * The demo page: backend choice, the model (the shipped `ifan-3t` of `@ifan/models`, or the one the user
 * fine-tuned here and kept in IndexedDB, or `?model=URL`), the face detector, analysis of a photo or the
 * webcam (test-time mirroring on request), and fine-tuning with a live loss plot. URL parameters:
 * `backend` (webgpu, webgl, wasm, cpu), `model` (a saved iFAN model's model.json, or `train`: a tiny
 * network trained here on synthetic faces), `steps` (its training steps, default 60), `photo` (a picture
 * to analyse first instead of the example).
 */
import * as tf from '@tensorflow/tfjs-core';
import { saveNetwork, selectBackend, type IntegratedNetwork, type RawImage, type Sample, type BackendName } from '@ifan/core';
import { createDetector } from '@ifan/detect';
import { FER2013_7 } from '@ifan/task-emotion';
import { pretrainedInfo } from '@ifan/models';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
// face-api's MIT-licensed demo photo (docs/photos/README.md)
import examplePhoto from '../../../docs/photos/sample6.jpg?url';
import { analyzePhoto, createDemoNetwork, faceNumbers, loadModel, parsingSet, syntheticSamples, syntheticTasks, trainSteps, type DetectorLike, type FaceAnalysis } from './ifan';
import { LossPlot } from './plot';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const setState = (s: string) => (document.body.dataset.state = s);

let net: IntegratedNetwork;
let detector: DetectorLike;
let current: RawImage | null = null;
let webcam: { stream: MediaStream; video: HTMLVideoElement } | null = null;
let busy = false;
const plot = new LossPlot($<HTMLCanvasElement>('loss'));
/** Where the page keeps the model it fine-tuned, so that the next visit starts from it. */
const KEPT = 'indexeddb://ifan-web-demo';
/** The shipped model the page starts from, served at models/ (vite.config.ts). */
const SHIPPED = 'ifan-3t';

async function keep(): Promise<void> {
  await saveNetwork(net, KEPT);
  $('kept').textContent = 'The model is kept in this browser (IndexedDB) for your next visit.';
}

async function start(): Promise<void> {
  setState('starting');
  const choice = await selectBackend({
    backend: (params.get('backend') as BackendName | null) ?? undefined,
    wasmPaths: { 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded },
    log: (line) => console.info(line),
  });
  $('backend').textContent = `${choice.message}${choice.kernels.length ? `; ${choice.kernels.length} iFAN training kernels registered` : ''}`;
  detector = await createDetector({ model: new URL('models/blazeface.json', document.baseURI).href });
  const modelUrl = params.get('model');
  const kept = modelUrl ? undefined : await loadModel(KEPT).catch(() => undefined);
  if (modelUrl === 'train') {
    const steps = Number(params.get('steps') ?? 60);
    $('model-note').textContent =
      `A tiny network trained right here: the tiny backbone (32 px input), ${steps} steps on 96 synthetic faces, in your browser. ` +
      'Expect rough results, on real faces above all; fine-tune below for more.';
    net = createDemoNetwork();
    setState('training');
    await runTraining(syntheticSamples(96, 3), steps, 5);
    await keep();
  } else if (modelUrl) {
    net = await loadModel(new URL(modelUrl, location.href).href);
    $('model-note').textContent = `Model loaded from ${modelUrl}.`;
  } else if (kept) {
    net = kept;
    $('model-note').textContent =
      'The model you fine-tuned in this page in an earlier visit, kept in this browser; "Forget the kept model" goes back to the shipped one next time.';
  } else {
    net = await loadModel(new URL(`models/${SHIPPED}/model.json`, document.baseURI).href);
    const info = pretrainedInfo(SHIPPED);
    const f = info.figures;
    $('model-note').textContent =
      `The pretrained ${SHIPPED} of @ifan/models: one network for all three tasks, trained on real faces (${info.cpuHours} CPU-hours; ` +
      `validation: parsing F ${f.parsing.overallFScore.toFixed(3)} on CelebAMask-HQ faces, landmark NME ${f.landmarks.meanNME.toFixed(4)} on MTFL, ` +
      `expression accuracy ${f.emotion.accuracy.toFixed(3)} on FER2013). For research and non-commercial use only, as its training data.`;
  }
  legend();
  setState('ready');
  for (const id of ['webcam', 'example', 'train-start']) $<HTMLButtonElement>(id).disabled = false;
  await analyseUrl(params.get('photo') ?? examplePhoto);
}

/** RGB bytes of an image, video frame or bitmap, at most `maxSide` pixels on its long side. */
function toRaw(source: CanvasImageSource, width: number, height: number, maxSide = 1280): RawImage {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const w = Math.round(width * scale);
  const h = Math.round(height * scale);
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(source, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { width: w, height: h, channels: 3, data };
}

async function decodeBlob(blob: Blob): Promise<RawImage> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    return toRaw(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

async function analyseUrl(url: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot load the picture ${url}: HTTP ${res.status}`);
  await analyse(await decodeBlob(await res.blob()));
}

async function analyse(image: RawImage, live = false): Promise<FaceAnalysis[]> {
  busy = true;
  if (!live) setState('analysing');
  const t0 = performance.now();
  try {
    current = image;
    const faces = await analyzePhoto(net, detector, image, { mirror: $<HTMLInputElement>('mirror').checked });
    draw(image, faces);
    showNumbers(faces);
    $('analyse-status').textContent = `${faces.length} face${faces.length === 1 ? '' : 's'} in ${Math.round(performance.now() - t0)} ms (${image.width} x ${image.height})`;
    if (!live) setState('analysed');
    return faces;
  } finally {
    busy = false;
  }
}

/** Parsing classes that cover much of a face, drawn lightly so that the face shows through. */
const LARGE_REGIONS = new Set(['face skin', 'skin', 'hair', 'neck', 'cloth', 'hat']);

function draw(image: RawImage, faces: FaceAnalysis[]): void {
  const canvas = $<HTMLCanvasElement>('view');
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d')!;
  const px = ctx.createImageData(image.width, image.height);
  for (let i = 0, j = 0; j < image.data.length; i += 4, j += 3) {
    px.data[i] = image.data[j];
    px.data[i + 1] = image.data[j + 1];
    px.data[i + 2] = image.data[j + 2];
    px.data[i + 3] = 255;
  }
  // every face's parsing mask over the photo (background left clear)
  const set = parsingSet(net);
  for (const f of faces) {
    const m = f.parsing.data;
    for (let k = 0; k < m.length; k++) {
      const c = m[k];
      if (c === 0) continue;
      const a = LARGE_REGIONS.has(set.classes[c]) ? 0.25 : 0.6; // skin, hair and the like lightly, the parts strongly
      const [r, g, b] = set.colors[c];
      px.data[4 * k] = Math.round((1 - a) * px.data[4 * k] + a * r);
      px.data[4 * k + 1] = Math.round((1 - a) * px.data[4 * k + 1] + a * g);
      px.data[4 * k + 2] = Math.round((1 - a) * px.data[4 * k + 2] + a * b);
    }
  }
  ctx.putImageData(px, 0, 0);
  const unit = Math.max(1, Math.min(image.width, image.height) / 320);
  ctx.lineWidth = unit;
  ctx.font = `${Math.round(11 * unit)}px system-ui, sans-serif`;
  faces.forEach((f, i) => {
    const [x, y, w, h] = f.framingBox;
    ctx.strokeStyle = '#3ddc84';
    ctx.strokeRect(x, y, w, h);
    ctx.fillStyle = '#ffeb3b';
    for (const [lx, ly] of f.landmarks) {
      ctx.beginPath();
      ctx.arc(lx, ly, 2 * unit, 0, 2 * Math.PI);
      ctx.fill();
    }
    const p = f.emotion.probabilities[f.emotion.classIndex];
    const label = `${i + 1}: ${f.emotion.className} ${(100 * p).toFixed(0)}%`;
    ctx.fillStyle = 'rgba(0,0,0,0.6)';
    ctx.fillRect(x, y - 14 * unit, ctx.measureText(label).width + 6 * unit, 14 * unit);
    ctx.fillStyle = 'white';
    ctx.fillText(label, x + 3 * unit, y - 3 * unit);
  });
}

function showNumbers(faces: FaceAnalysis[]): void {
  const set = parsingSet(net);
  const body = $('results').querySelector('tbody')!;
  body.replaceChildren(
    ...faces.map((f, i) => {
      const tr = document.createElement('tr');
      const counts = f.parsingCounts.map((n, c) => (c > 0 && n > 0 ? `${set.classes[c]} ${n}` : '')).filter(Boolean).join(', ');
      const cells = [
        String(i + 1),
        f.score.toFixed(3),
        `${f.emotion.className} (${(100 * f.emotion.probabilities[f.emotion.classIndex]).toFixed(1)}%)`,
        f.landmarks.map(([x, y]) => `(${x.toFixed(1)}, ${y.toFixed(1)})`).join(' '),
        counts,
      ];
      for (const c of cells) tr.appendChild(Object.assign(document.createElement('td'), { textContent: c }));
      return tr;
    }),
  );
  $('results-json').textContent = JSON.stringify(faces.map(faceNumbers), null, 1);
}

/** The parsing classes of the model, in their colours. */
function legend(): void {
  const set = parsingSet(net);
  $('legend').replaceChildren(
    ...set.classes.slice(1).map((name, i) => {
      const s = document.createElement('span');
      const [r, g, b] = set.colors[i + 1];
      s.innerHTML = `<i style="background: rgb(${r}, ${g}, ${b})"></i>`;
      s.append(name);
      return s;
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// webcam

async function toggleWebcam(): Promise<void> {
  const button = $<HTMLButtonElement>('webcam');
  if (webcam) {
    for (const t of webcam.stream.getTracks()) t.stop();
    webcam = null;
    button.textContent = 'Turn the webcam on';
    return;
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  const video = Object.assign(document.createElement('video'), { srcObject: stream, muted: true, playsInline: true });
  await video.play();
  webcam = { stream, video };
  button.textContent = 'Turn the webcam off';
  const loop = async () => {
    if (!webcam) return;
    if (!busy && video.videoWidth > 0) await analyse(toRaw(video, video.videoWidth, video.videoHeight, 640), true);
    requestAnimationFrame(() => void loop().catch(fail));
  };
  await loop();
}

// ---------------------------------------------------------------------------------------------------
// training

let stop: AbortController | null = null;

async function runTraining(samples: Sample[], steps: number, seed: number, tasks?: string[]): Promise<void> {
  stop = new AbortController();
  $<HTMLButtonElement>('train-start').disabled = true;
  $<HTMLButtonElement>('train-stop').disabled = false;
  const t0 = performance.now();
  try {
    await trainSteps(net, samples, {
      steps,
      seed,
      tasks,
      signal: stop.signal,
      onStep: async (step, total, losses) => {
        plot.add(total, losses);
        $('train-status').textContent = `step ${step + 1} / ${steps}: loss ${total.toFixed(3)} (${((performance.now() - t0) / (step + 1)).toFixed(0)} ms per step)`;
        await new Promise((r) => setTimeout(r, 0)); // let the page draw
      },
    });
  } finally {
    stop = null;
    $<HTMLButtonElement>('train-start').disabled = false;
    $<HTMLButtonElement>('train-stop').disabled = true;
  }
}

/** The user's labelled faces: one sample per detected face, with the expression picked for it. */
const mine: { photo: RawImage; face: FaceAnalysis; select: HTMLSelectElement }[] = [];

async function addMine(files: FileList): Promise<void> {
  for (const file of Array.from(files)) {
    const photo = await decodeBlob(file);
    for (const face of await analyzePhoto(net, detector, photo, { mirror: $<HTMLInputElement>('mirror').checked })) {
      const fig = document.createElement('figure');
      const thumb = document.createElement('canvas');
      thumb.width = thumb.height = 96;
      const [x, y, w, h] = face.framingBox;
      const src = new OffscreenCanvas(photo.width, photo.height);
      const sctx = src.getContext('2d')!;
      const id = sctx.createImageData(photo.width, photo.height);
      for (let i = 0, j = 0; j < photo.data.length; i += 4, j += 3) id.data.set([photo.data[j], photo.data[j + 1], photo.data[j + 2], 255], i);
      sctx.putImageData(id, 0, 0);
      thumb.getContext('2d')!.drawImage(src, x, y, w, h, 0, 0, 96, 96);
      const select = document.createElement('select');
      for (const c of FER2013_7.classes) select.append(new Option(c, c, false, c === face.emotion.className));
      fig.append(thumb, document.createElement('br'), select);
      $('mine-faces').append(fig);
      mine.push({ photo, face, select });
    }
  }
  $('train-status').textContent = `${mine.length} face${mine.length === 1 ? '' : 's'} of yours; pick each one's expression`;
}

function mySamples(): Sample[] {
  return mine.map(({ photo, face, select }, i) => ({
    id: `mine/${i}`,
    load: async () => ({ image: photo, labels: { emotion: { classIndex: FER2013_7.classes.indexOf(select.value) } }, faceBox: face.framingBox }),
  }));
}

function fail(e: unknown): void {
  console.error(e);
  setState('error');
  $('analyse-status').textContent = `error: ${(e as Error).message}`;
}

// ---------------------------------------------------------------------------------------------------

for (const id of ['webcam', 'example', 'train-start']) $<HTMLButtonElement>(id).disabled = true;
$<HTMLInputElement>('photo-input').addEventListener('change', (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (f) void decodeBlob(f).then((im) => analyse(im)).catch(fail);
});
$('example').addEventListener('click', () => void analyseUrl(examplePhoto).catch(fail));
$('webcam').addEventListener('click', () => void toggleWebcam().catch(fail));
$('mirror').addEventListener('change', () => {
  if (current && !webcam && !busy) void analyse(current).catch(fail);
});
$('train-source').addEventListener('change', (ev) => {
  $('mine-label').hidden = (ev.target as HTMLSelectElement).value !== 'mine';
});
$<HTMLInputElement>('mine-input').addEventListener('change', (ev) => {
  const files = (ev.target as HTMLInputElement).files;
  if (files) void addMine(files).catch(fail);
});
$('train-stop').addEventListener('click', () => stop?.abort());
$('download').addEventListener('click', () => void saveNetwork(net, 'downloads://ifan-web-model').catch(fail));
$('forget').addEventListener('click', () => {
  tf.io
    .removeModel(KEPT)
    .then(() => ($('kept').textContent = `The kept model is forgotten: the next visit starts from the shipped ${SHIPPED} again.`))
    .catch(() => ($('kept').textContent = 'No model is kept in this browser.'));
});
$('train-start').addEventListener('click', () => {
  const source = $<HTMLSelectElement>('train-source').value;
  const samples = source === 'mine' ? mySamples() : syntheticSamples(Number($<HTMLInputElement>('train-count').value), Math.floor(Math.random() * 1e6));
  if (samples.length === 0) {
    $('train-status').textContent = 'add photos with faces first';
    return;
  }
  // your photos carry expressions only; synthetic faces all three tasks, but their parsing classes
  // (Helen's 11) train only a model parsed in those classes
  const tasks = source === 'mine' ? ['emotion'] : syntheticTasks(net);
  setState('training');
  void runTraining(samples, Number($<HTMLInputElement>('train-steps').value), Math.floor(Math.random() * 1e6), tasks)
    .then(async () => {
      setState('trained');
      await keep();
      if (current && !webcam) await analyse(current);
    })
    .catch(fail);
});
start().catch(fail);
