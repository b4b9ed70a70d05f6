/** Label sets and the task key of the emotion task: plain data, safe in a browser. */
import type { EmotionLabelSet } from './types';

/** Key of emotion labels in `LabelledImage.labels` unless a loader is told otherwise. */
export const EMOTION_TASK = 'emotion';

/** FER2013's 7 classes, in the alphabetical order of its image-folder release. */
export const FER2013_7: EmotionLabelSet = {
  name: 'fer2013-7',
  classes: ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'],
};

/** BNU-LSVED's 7 classroom expressions (the paper's emotion set). */
export const BNU_LSVED_7: EmotionLabelSet = {
  name: 'bnu-lsved-7',
  classes: ['concentrated', 'disgust', 'distracted', 'happy', 'puzzled', 'surprised', 'tired'],
};

/** The class of each numeric code in FER2013's CSV: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral. */
export const FER2013_CSV_CODES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;

/** The class of each RAF-DB basic label 1..7 (`RAFDB_CODES[label - 1]`), also its numbered folders. */
export const RAFDB_CODES = ['surprise', 'fear', 'disgust', 'happy', 'sad', 'angry', 'neutral'] as const;

/** A label set from a list of class names. */
export function emotionLabelSet(classes: string[], name = 'custom'): EmotionLabelSet {
  if (classes.length < 2) throw new Error(`emotionLabelSet: need at least 2 classes, got ${classes.length}`);
  const norm = classes.map((c) => c.trim().toLowerCase());
  norm.forEach((c, i) => {
    if (c === '') throw new Error('emotionLabelSet: empty class name');
    if (norm.indexOf(c) !== i) throw new Error(`emotionLabelSet: class "${classes[i]}" is listed twice`);
  });
  return { name, classes: [...classes] };
}

/** Other spellings of class names seen in the wild (RAF-DB, AffectNet, CK+, folder names). */
const ALIASES: Record<string, string[]> = {
  angry: ['anger', 'angry'],
  disgust: ['disgust', 'disgusted'],
  fear: ['fear', 'fearful', 'scared'],
  happy: ['happy', 'happiness', 'joy'],
  sad: ['sad', 'sadness'],
  surprise: ['surprise', 'surprised'],
  neutral: ['neutral', 'neutrality', 'calm'],
};

/**
 * The index of a class name in `set`: exact (case-insensitive) first, then common other spellings
 * (`anger` for `angry`, `surprised` for `surprise`, ...). -1 if none.
 */
export function classIndex(set: EmotionLabelSet, name: string): number {
  const n = name.trim().toLowerCase();
  const classes = set.classes.map((c) => c.toLowerCase());
  const exact = classes.indexOf(n);
  if (exact >= 0) return exact;
  for (const spellings of Object.values(ALIASES)) {
    if (!spellings.includes(n)) continue;
    const i = classes.findIndex((c) => spellings.includes(c));
    if (i >= 0) return i;
  }
  return -1;
}
