/**
 * synth: media made at set-up for tests, benchmarks and the demo. Nothing here runs in the pipeline.
 *  - renderPlate: a mainland licence plate (blue, yellow single and two-row, green new-energy, white, black) drawn
 *    with CJK fonts from Debian packages;
 *  - randomPlateText: seeded plate texts that fit common/plates.ts;
 *  - plateSet / plateViews: rendered plates warped onto real vehicle photos from Debian packages, with truth and
 *    boxes, deterministic for a seed; motionBlurCase: a blurred foreign plate no reader should read confidently;
 *  - the plate camera footage (.cache/media/plates.mp4 and its truth plates.json), made by the set-up;
 *  - the face camera footage (.cache/media/faces.mp4 and faces.json: a person from astronaut.png who leaves and
 *    comes back every 16 s), made by the set-up with ffmpeg.
 */
export { Prng } from './prng.js';
export { randomPlateText } from './plate-text.js';
export { PLATE_FONTS, type PlateFont, installedCjkFamilies, requirePlateFonts } from './fonts.js';
export { plateLayout, type PlateLayout, type PlateRows, type CharBox } from './plate-layout.js';
export { renderPlate, plateSvg, randomPlateStyle, PLATE_PAINT, POLICE_RED, DEFAULT_PLATE_STYLE, type PlateStyle, type RenderPlateOptions, type RenderedPlate } from './plate-render.js';
export { plateSet, plateSpecs, plateViews, renderSample, motionBlurCase, DEFAULT_PLATE_WIDTHS, MAX_UPSCALE, type PlateSetOptions, type PlateSample, type PlateSpec, type PlateTruth, type RobustnessCase } from './plate-set.js';
export { VEHICLE_PHOTOS, SIDE_VIEW_PHOTOS, MOTION_BLUR_PLATE, type VehiclePhoto, type VehicleKind } from './vehicles.js';
export { homography, applyHomography, warpInto, plateQuad, type Quad, type Point, type RgbImage, type RgbaImage } from './warp.js';
export { degrade, randomDegradation, NO_DEGRADATION, type Degradation } from './degrade.js';
export { renderFootage, writePlateFootage, PLATE_FOOTAGE, FOOTAGE_VERSION, READABLE_PLATE_PX, type FootageTruth, type FootageVehicle } from './footage.js';
export { writeFaceFootage, faceFootageArgs, faceFootageTruth, FACE_FOOTAGE, FACES_FOOTAGE_VERSION, type FaceFootageTruth } from './faces.js';
