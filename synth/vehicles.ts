/**
 * Real vehicle photos from Debian packages (extracted by scripts/setup.sh into .cache/media) and, for each
 * vehicle with its front or back towards the camera, where its plate sits. Measured by hand on the photos: the
 * vehicle's box, the centre of its plate spot (the US/UK plate the photo shows) and how wide a 440 mm mainland
 * plate would be there, from the vehicle's width (a car's back is about 1.8 m, a bus front about 2.5 m).
 *
 * Side views (node-opencv's car1.jpg, car2.jpg, skimage's motorcycle_left.png) show no place where a plate
 * faces the camera; they are not here, and the demo footage uses the car side views as passing traffic without
 * a readable plate.
 */
import type { Box } from '../common/messages.js';

export type VehicleKind = 'car' | 'truck' | 'bus';
export interface VehiclePhoto {
  readonly id: string;
  /** File in .cache/media. */
  readonly file: string;
  /** Debian package and path it comes from (for the README and the truth files). */
  readonly from: string;
  readonly kind: VehicleKind;
  readonly view: 'front' | 'rear';
  readonly box: Box;
  /** Centre of the plate spot, photo pixels. */
  readonly plate: { readonly cx: number; readonly cy: number; readonly width: number };
  /** How the plate spot is turned (degrees): + turns its right edge away from the camera. */
  readonly yaw: number;
}

const DLIB = 'libdlib19.1:/usr/share/doc/libdlib19.1/examples';
const OPENCV = 'opencv-doc:/usr/share/doc/opencv-doc/opencv4/html';

export const VEHICLE_PHOTOS: readonly VehiclePhoto[] = [
  { id: 'white-sedan-rear', file: 'mmod_cars_test_image.jpg', from: `${DLIB}/mmod_cars_test_image.jpg`, kind: 'car', view: 'rear', box: { x: 657, y: 204, w: 168, h: 123 }, plate: { cx: 725.5, cy: 262, width: 41 }, yaw: 0 },
  { id: 'green-taxi-rear', file: 'mmod_cars_test_image.jpg', from: `${DLIB}/mmod_cars_test_image.jpg`, kind: 'car', view: 'rear', box: { x: 80, y: 207, w: 230, h: 140 }, plate: { cx: 155, cy: 281, width: 37 }, yaw: -12 },
  { id: 'lime-taxi-rear', file: 'mmod_cars_test_image.jpg', from: `${DLIB}/mmod_cars_test_image.jpg`, kind: 'car', view: 'rear', box: { x: 297, y: 198, w: 165, h: 102 }, plate: { cx: 337.5, cy: 254.5, width: 25 }, yaw: -15 },
  { id: 'sedan-rear', file: 'mmod_cars_test_image2.jpg', from: `${DLIB}/mmod_cars_test_image2.jpg`, kind: 'car', view: 'rear', box: { x: 1108, y: 233, w: 259, h: 200 }, plate: { cx: 1239, cy: 334, width: 63 }, yaw: 0 },
  { id: 'black-suv-front', file: 'mmod_cars_test_image2.jpg', from: `${DLIB}/mmod_cars_test_image2.jpg`, kind: 'car', view: 'front', box: { x: 466, y: 202, w: 284, h: 190 }, plate: { cx: 552, cy: 330.5, width: 51 }, yaw: -12 },
  { id: 'pickup-front', file: 'mmod_cars_test_image2.jpg', from: `${DLIB}/mmod_cars_test_image2.jpg`, kind: 'truck', view: 'front', box: { x: 110, y: 214, w: 300, h: 144 }, plate: { cx: 173.5, cy: 339, width: 35 }, yaw: -22 },
  { id: 'double-decker-front', file: 'pexels_double_decker_bus.jpg', from: `${OPENCV}/pexels_double_decker_bus.jpg`, kind: 'bus', view: 'front', box: { x: 65, y: 112, w: 410, h: 276 }, plate: { cx: 430, cy: 370, width: 24 }, yaw: -20 },
];

/** The blurred foreign plate of opencv-doc (unknown text): a robustness case, no confident mainland reading expected. */
export const MOTION_BLUR_PLATE = { file: 'licenseplate_motion.jpg', from: 'opencv-doc:/usr/share/doc/opencv-doc/examples/data/licenseplate_motion.jpg' } as const;

/** Side views used as passing traffic in the footage (no plate faces the camera). */
export const SIDE_VIEW_PHOTOS = [
  { id: 'black-sedan-side', file: 'node-opencv-car1.jpg', from: 'node-opencv:/usr/share/doc/node-opencv/examples/files/car1.jpg', kind: 'car' as const, box: { x: 51, y: 196, w: 905, h: 280 } },
  { id: 'silver-sedan-side', file: 'node-opencv-car2.jpg', from: 'node-opencv:/usr/share/doc/node-opencv/examples/files/car2.jpg', kind: 'car' as const, box: { x: 145, y: 337, w: 1242, h: 396 } },
] as const;
