/**
 * Mainland China licence plates: the alphabet, the formats and the canonical form every stage agrees on. The
 * plate reader (inference/) normalises what the OCR read into this form; the index (search-index/) stores and
 * searches it; the API and CLI check queries against the same alphabet.
 *
 * Canonical form: the characters without separator or spaces, e.g. `鲁B12345` (shown as `鲁B·12345`).
 *  - standard (blue, yellow, black, white): province + issuing-authority letter + 5 characters;
 *  - new-energy (green): province + letter + 6 characters.
 * Mainland plates use neither I nor O (they would read as 1 and 0).
 */

/** The 31 provincial-level abbreviations that open a mainland plate. */
export const PLATE_PROVINCES = '京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼';
/** Letters used on plates: A-Z without I and O. */
export const PLATE_LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
export const PLATE_DIGITS = '0123456789';
/** Characters that may end a standard plate besides letters and digits (learner, police, trailer, Hong Kong, Macau, consulate, embassy). */
export const PLATE_SUFFIXES = '学警挂港澳领使';
/** Every character a canonical plate may hold. */
export const PLATE_ALPHABET = PLATE_PROVINCES + PLATE_LETTERS + PLATE_DIGITS + PLATE_SUFFIXES;

export const PLATE_COLOURS = ['blue', 'yellow', 'green', 'white', 'black'] as const;
export type PlateColour = (typeof PLATE_COLOURS)[number];

export type PlateFormat = 'standard' | 'new-energy';

/** Separators and spacing people and OCR put inside plates; dropped by canonicalPlate. */
const SEPARATORS = /[\s·•.\-_]/gu;

/** Upper-cases, drops separators and maps O to 0 and I to 1 (mainland plates have neither letter). */
export function canonicalPlate(text: string): string {
  return text.replace(SEPARATORS, '').toUpperCase().replace(/O/g, '0').replace(/I/g, '1');
}

/** The format a canonical plate fits, or null. */
export function plateFormat(plate: string): PlateFormat | null {
  const chars = [...plate];
  if (chars.length < 7 || chars.length > 8) return null;
  if (!PLATE_PROVINCES.includes(chars[0]!) || !PLATE_LETTERS.includes(chars[1]!)) return null;
  const rest = chars.slice(2);
  const alnum = (c: string): boolean => PLATE_LETTERS.includes(c) || PLATE_DIGITS.includes(c);
  if (rest.length === 5) return rest.slice(0, 4).every(alnum) && (alnum(rest[4]!) || PLATE_SUFFIXES.includes(rest[4]!)) ? 'standard' : null;
  return rest.every(alnum) ? 'new-energy' : null;
}

/** `鲁B12345` -> `鲁B·12345` (display only; searches and records use the canonical form). */
export function displayPlate(plate: string): string {
  const chars = [...plate];
  return chars.length > 2 ? `${chars.slice(0, 2).join('')}·${chars.slice(2).join('')}` : plate;
}
