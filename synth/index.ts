/**
 * synth: media made at set-up for tests, benchmarks and the demo. Nothing here runs in the pipeline.
 *  - renderPlate: a mainland licence plate (blue, yellow single and two-row, green new-energy, white, black) drawn
 *    with CJK fonts from Debian packages;
 *  - randomPlateText: seeded plate texts that fit common/plates.ts.
 */
export { Prng } from './prng.js';
export { randomPlateText } from './plate-text.js';
export { PLATE_FONTS, type PlateFont, installedCjkFamilies, requirePlateFonts } from './fonts.js';
export { plateLayout, type PlateLayout, type PlateRows, type CharBox } from './plate-layout.js';
export { renderPlate, plateSvg, randomPlateStyle, PLATE_PAINT, POLICE_RED, DEFAULT_PLATE_STYLE, type PlateStyle, type RenderPlateOptions, type RenderedPlate } from './plate-render.js';
