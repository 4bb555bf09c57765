/**
 * Random plate texts that fit common/plates.ts, by plate colour, the way mainland plates are issued:
 *  - blue (small cars) and yellow (large vehicles, learners, trailers): province + letter + 5, at most two letters
 *    among the 5 (issuing rules keep the rest digits);
 *  - yellow learner and trailer plates end in 学 / 挂;
 *  - green new-energy: 6 after the letter; small cars D or F, a letter or digit, 4 digits; large ones 5 digits and D/F;
 *  - white police plates end in 警 (4 digits before it);
 *  - black Hong Kong / Macau cross-border plates: 粤Z + 4 + 港/澳.
 */
import { PLATE_DIGITS, PLATE_LETTERS, PLATE_PROVINCES, plateFormat, type PlateColour } from '../common/plates.js';
import type { Prng } from './prng.js';

function serial(rng: Prng, n: number, maxLetters: number): string {
  const letterAt = new Set<number>();
  const letters = rng.int(0, maxLetters);
  while (letterAt.size < letters) letterAt.add(rng.int(0, n - 1));
  let s = '';
  for (let i = 0; i < n; i++) s += letterAt.has(i) ? rng.pick(PLATE_LETTERS) : rng.pick(PLATE_DIGITS);
  return s;
}

/** A canonical plate (`鲁B12345`) of the given colour. */
export function randomPlateText(rng: Prng, colour: PlateColour): string {
  const province = rng.pick(PLATE_PROVINCES);
  const letter = rng.pick(PLATE_LETTERS);
  let text: string;
  switch (colour) {
    case 'blue':
      text = province + letter + serial(rng, 5, 2);
      break;
    case 'yellow': {
      const kind = rng.next();
      text = province + letter + (kind < 0.15 ? serial(rng, 4, 0) + '学' : kind < 0.25 ? serial(rng, 4, 0) + '挂' : serial(rng, 5, 1));
      break;
    }
    case 'green':
      // Small cars: D/F, then a letter or digit, then 4 digits; large vehicles: 5 digits, then D/F.
      text = province + letter + (rng.chance(0.7) ? rng.pick('DF') + serial(rng, 1, 1) + serial(rng, 4, 0) : serial(rng, 5, 0) + rng.pick('DF'));
      break;
    case 'white':
      text = province + letter + serial(rng, 4, 0) + '警';
      break;
    case 'black':
      text = '粤Z' + serial(rng, 4, 1) + rng.pick('港澳');
      break;
  }
  // A guard on this file's own rules against the shared contract, not a user error.
  if (plateFormat(text) === null) throw new Error(`generated plate ${text} does not fit common/plates.ts`);
  return text;
}
