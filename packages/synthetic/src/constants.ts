/** Helen's 11 parsing classes, in the order of its `_lbl00` ... `_lbl10` files. "left" means image-left. */
export const HELEN_CLASSES = [
  'background',
  'face skin',
  'left brow',
  'right brow',
  'left eye',
  'right eye',
  'nose',
  'upper lip',
  'inner mouth',
  'lower lip',
  'hair',
] as const;

/** One RGB colour per Helen class, for colour-coded masks. */
export const HELEN_COLORS: readonly [number, number, number][] = [
  [0, 0, 0],
  [255, 204, 153],
  [0, 128, 0],
  [0, 200, 90],
  [0, 0, 255],
  [0, 150, 255],
  [255, 255, 0],
  [255, 0, 128],
  [128, 0, 0],
  [255, 80, 80],
  [140, 70, 20],
];

/**
 * The 5 MTFL landmarks in file order. "left" is image-left (the person's right): MTFL lists the eye
 * with the smaller x first.
 */
export const MTFL_POINTS = ['left eye', 'right eye', 'nose tip', 'left mouth corner', 'right mouth corner'] as const;

/**
 * The 7 expressions in the order of FER2013's class folders (alphabetical). Note that FER2013's CSV
 * numbers them differently (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral).
 */
export const EXPRESSIONS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'] as const;

export type ExpressionName = (typeof EXPRESSIONS)[number];

export const CLASS = {
  background: 0,
  skin: 1,
  leftBrow: 2,
  rightBrow: 3,
  leftEye: 4,
  rightEye: 5,
  nose: 6,
  upperLip: 7,
  innerMouth: 8,
  lowerLip: 9,
  hair: 10,
} as const;
