/** Label sets and the task key of the parsing task: plain data, safe in a browser. */
import type { ParsingLabelSet } from './types';

/** Key of parsing labels in `LabelledImage.labels` unless a loader is told otherwise. */
export const PARSING_TASK = 'parsing';

export type Rgb = [number, number, number];

/** Distinct colours for label sets built without colours (and for classes beyond them). */
const PALETTE: Rgb[] = [
  [0, 0, 0], [255, 204, 153], [128, 64, 0], [160, 96, 32], [0, 0, 255], [0, 128, 255], [255, 255, 0], [255, 0, 0],
  [128, 0, 128], [255, 0, 128], [96, 48, 16], [0, 255, 0], [0, 255, 255], [255, 128, 0], [128, 128, 255], [0, 128, 0],
  [128, 128, 0], [0, 128, 128], [255, 128, 255], [192, 192, 192],
];

function paletteColor(i: number): Rgb {
  if (i < PALETTE.length) return [...PALETTE[i]] as Rgb;
  // golden-angle hues for the rest
  const h = (i * 137.508) % 360;
  const f = (n: number) => {
    const k = (n + h / 60) % 6;
    return Math.round(255 * (1 - Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/**
 * Helen's 11 classes in the order of Smith et al.'s label images (`_lbl00` ... `_lbl10`). Groups as
 * scored in the literature: `eyes`, `brows`, `mouth-all` (inner mouth + both lips) and `overall`
 * (every facial component: brows, eyes, nose, mouth; not skin, hair or background).
 */
export const HELEN_11: ParsingLabelSet = {
  name: 'helen-11',
  classes: ['background', 'face skin', 'left brow', 'right brow', 'left eye', 'right eye', 'nose', 'upper lip', 'inner mouth', 'lower lip', 'hair'],
  colors: PALETTE.slice(0, 11).map((c) => [...c] as Rgb),
  flipPairs: [
    [2, 3],
    [4, 5],
  ],
  groups: { eyes: [4, 5], brows: [2, 3], 'mouth-all': [7, 8, 9], overall: [2, 3, 4, 5, 6, 7, 8, 9] },
  helenTerms: ['background', 'face skin', 'left brow', 'right brow', 'left eye', 'right eye', 'nose', 'upper lip', 'inner mouth', 'lower lip', 'hair'],
};

/**
 * FASSEG's 6 classes with its mask colours. FASSEG labels eyebrows as hair and both eyes as one class,
 * so nothing swaps under a flip. `overall` = eyes, nose, mouth.
 */
export const FASSEG_6: ParsingLabelSet = {
  name: 'fasseg-6',
  classes: ['background', 'hair', 'skin', 'eyes', 'nose', 'mouth'],
  colors: [
    [255, 0, 0],
    [127, 0, 0],
    [255, 255, 0],
    [0, 0, 255],
    [0, 255, 255],
    [0, 255, 0],
  ],
  flipPairs: [],
  groups: { overall: [3, 4, 5] },
};

/** CelebAMask-HQ's part file names, in the order the official `g_mask.py` paints them (later on top). */
export const CELEBAMASK_PARTS = [
  'skin', 'nose', 'eye_g', 'l_eye', 'r_eye', 'l_brow', 'r_brow', 'l_ear', 'r_ear',
  'mouth', 'u_lip', 'l_lip', 'hair', 'hat', 'ear_r', 'neck_l', 'neck', 'cloth',
] as const;
export type CelebAMaskPart = (typeof CELEBAMASK_PARTS)[number];

/** CelebAMask-HQ's 19 classes: background, then the parts in {@link CELEBAMASK_PARTS} order. */
export const CELEBAMASK_19: ParsingLabelSet = {
  name: 'celebamask-19',
  classes: [
    'background', 'skin', 'nose', 'eye glasses', 'left eye', 'right eye', 'left brow', 'right brow', 'left ear', 'right ear',
    'mouth', 'upper lip', 'lower lip', 'hair', 'hat', 'earring', 'necklace', 'neck', 'cloth',
  ],
  colors: Array.from({ length: 19 }, (_, i) => paletteColor(i)),
  flipPairs: [
    [4, 5],
    [6, 7],
    [8, 9],
  ],
  groups: { eyes: [4, 5], brows: [6, 7], 'mouth-all': [10, 11, 12], overall: [2, 4, 5, 6, 7, 10, 11, 12] },
  // as the celebamask-hq loader merges parts into helen-11 (CELEBAMASK_TO_HELEN); glasses, ears,
  // accessories, neck and cloth have no Helen class
  helenTerms: [
    'background', 'face skin', 'nose', null, 'left eye', 'right eye', 'left brow', 'right brow', null, null,
    'inner mouth', 'upper lip', 'lower lip', 'hair', null, null, null, null, null,
  ],
};

export interface LabelSetOptions {
  name?: string;
  /** One RGB colour per class. Default: a fixed palette. */
  colors?: Rgb[];
  /** Default: classes whose names differ only by `left`/`right` (or an `l_`/`r_` prefix). */
  flipPairs?: [number, number][];
  /** Default: `overall` = every class but the first (the background). */
  groups?: Record<string, number[]>;
}

/**
 * A label set from a user's list of class names (class 0 is the background). Flip pairs are found
 * from the names unless given: `left eye` <-> `right eye`, `l_brow` <-> `r_brow`.
 */
export function parsingLabelSet(classes: string[], options: LabelSetOptions = {}): ParsingLabelSet {
  if (classes.length < 2 || classes.length > 256) throw new Error(`parsingLabelSet: need 2 to 256 classes, got ${classes.length}`);
  const seen = new Set<string>();
  for (const c of classes) {
    if (seen.has(c)) throw new Error(`parsingLabelSet: class "${c}" is listed twice`);
    seen.add(c);
  }
  const colors = options.colors ?? classes.map((_, i) => paletteColor(i));
  if (colors.length !== classes.length) throw new Error(`parsingLabelSet: ${colors.length} colours for ${classes.length} classes`);
  let flipPairs = options.flipPairs;
  if (!flipPairs) {
    flipPairs = [];
    classes.forEach((c, i) => {
      const partner = /\bleft\b/i.test(c) ? c.replace(/\bleft\b/i, (m) => (m[0] === 'L' ? 'Right' : 'right')) : /^l_/i.test(c) ? c.replace(/^l_/i, (m) => (m[0] === 'L' ? 'R_' : 'r_')) : undefined;
      const j = partner === undefined ? -1 : classes.indexOf(partner);
      if (j >= 0) flipPairs!.push([i, j]);
    });
  }
  for (const [a, b] of flipPairs) {
    if (!(a >= 0 && a < classes.length && b >= 0 && b < classes.length)) throw new Error(`parsingLabelSet: flip pair [${a}, ${b}] is out of range`);
  }
  const groups = options.groups ?? { overall: classes.map((_, i) => i).slice(1) };
  return { name: options.name ?? 'custom', classes: [...classes], colors: colors.map((c) => [...c] as Rgb), flipPairs, groups };
}

/** The built-in label sets by name. */
export const PARSING_LABEL_SETS: Readonly<Record<string, ParsingLabelSet>> = {
  [HELEN_11.name]: HELEN_11,
  [FASSEG_6.name]: FASSEG_6,
  [CELEBAMASK_19.name]: CELEBAMASK_19,
};

/**
 * A label set as given in options (and JSON run configurations): the set itself; the name of a
 * built-in one (`helen-11`, `fasseg-6`, `celebamask-19`; also `HELEN_11`, or a format name such as
 * `fasseg`); or the class names, background first (a set made by {@link parsingLabelSet}).
 */
export type ParsingLabelSetSpec = ParsingLabelSet | string | string[];

const LABEL_SET_ALIASES: Record<string, string> = { helen: 'helen-11', fasseg: 'fasseg-6', celebamask: 'celebamask-19', 'celebamask-hq': 'celebamask-19' };

/** The label set a {@link ParsingLabelSetSpec} names. @throws naming the built-in sets when a name is unknown. */
export function resolveParsingLabelSet(spec: ParsingLabelSetSpec): ParsingLabelSet {
  if (typeof spec === 'string') {
    const key = spec.trim().toLowerCase().replace(/_/g, '-');
    const set = PARSING_LABEL_SETS[LABEL_SET_ALIASES[key] ?? key];
    if (!set) {
      throw new Error(
        `unknown parsing label set "${spec}": the built-in sets are ${Object.keys(PARSING_LABEL_SETS).join(', ')}; ` +
          'for other classes give their names, background first (e.g. ["background", "skin", "hair"])',
      );
    }
    return set;
  }
  if (Array.isArray(spec)) return parsingLabelSet(spec);
  if (typeof spec !== 'object' || spec === null || !Array.isArray(spec.classes)) {
    throw new Error(`a parsing label set is a built-in name, a list of class names or { name, classes, ... }, not ${JSON.stringify(spec)}`);
  }
  // a set written by hand (a JSON run configuration) may leave out colours, flip pairs and groups
  if (spec.colors && spec.flipPairs && spec.groups && spec.name) return spec;
  return parsingLabelSet(spec.classes, { name: spec.name, colors: spec.colors, flipPairs: spec.flipPairs, groups: spec.groups });
}

/**
 * The label set a format's masks are drawn in: `helen` {@link HELEN_11}, `fasseg` {@link FASSEG_6},
 * `celebamask-hq` {@link CELEBAMASK_19} (its part masks can also be merged into another set);
 * `undefined` for `indexed`, whose grey masks hold class indices without naming the classes.
 */
export function formatLabelSet(format: string): ParsingLabelSet | undefined {
  return { helen: HELEN_11, fasseg: FASSEG_6, 'celebamask-hq': CELEBAMASK_19 }[format];
}
