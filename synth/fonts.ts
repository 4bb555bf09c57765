/**
 * The CJK fonts plates are drawn with, all from Debian packages that scripts/setup.sh installs when
 * `fc-list :lang=zh` lacks them (fonts-noto-cjk, fonts-wqy-zenhei, fonts-wqy-microhei, fonts-arphic-uming).
 * More than one font, because a plate reader trained or tuned on one typeface learns that typeface; real plates
 * use a narrow sans face that none of these is, so each glyph is fitted into its box (see glyph-metrics.ts).
 */
import { execFileSync } from 'node:child_process';
import { SetupError } from '../common/errors.js';

export const PLATE_FONTS = ['Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'WenQuanYi Micro Hei', 'AR PL UMing CN'] as const;
export type PlateFont = (typeof PLATE_FONTS)[number];

let installed: Set<string> | null = null;

/** Font families fontconfig knows for Chinese (cached; the set-up installs them before anything runs). */
export function installedCjkFamilies(): ReadonlySet<string> {
  if (installed) return installed;
  let out = '';
  try { out = execFileSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' }); } catch { out = ''; }
  installed = new Set(out.split('\n').flatMap((line) => line.split(',')).map((f) => f.trim()).filter(Boolean));
  return installed;
}

/**
 * Throws when a plate font is missing: librsvg would silently fall back to another face, and a test set that
 * claims four fonts but holds one is worse than none.
 */
export function requirePlateFonts(fonts: readonly PlateFont[] = PLATE_FONTS): void {
  const have = installedCjkFamilies();
  const missing = fonts.filter((f) => !have.has(f));
  if (missing.length > 0) {
    throw new SetupError('SETUP_MEDIA_MISSING', `CJK fonts missing: ${missing.join(', ')}; run npm run setup (it installs fonts-noto-cjk, fonts-wqy-zenhei, fonts-wqy-microhei, fonts-arphic-uming)`, { detail: { fonts: missing } });
  }
}
