/** Filter vocabularies offered in the forms. The API accepts any string; these are the values the models emit. */
export const CLASSES = ['person', 'car', 'bus', 'truck', 'motorcycle', 'bicycle'] as const;
export const VEHICLE_TYPES = ['car', 'suv', 'van', 'bus', 'truck', 'motorcycle', 'bicycle'] as const;
export const COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'white', 'black', 'grey', 'silver', 'brown'] as const;
export const GENDERS = ['male', 'female'] as const;
export const AGE_BANDS = ['0-17', '18-29', '30-44', '45-59', '60+'] as const;
/** common/plates.ts PLATE_COLOURS and common/colours.ts VEHICLE_COLOURS: the API checks these values. */
export const PLATE_COLOURS = ['blue', 'yellow', 'green', 'white', 'black'] as const;
export const CLOTHING_COLOURS = ['white', 'black', 'grey', 'red', 'blue', 'yellow', 'green', 'brown'] as const;

/** `鲁B12345` -> `鲁B·12345`, as common/plates.ts displayPlate (the console bundles none of the core's code). */
export function displayPlate(plate: string): string {
  const chars = [...plate];
  return chars.length > 2 ? `${chars.slice(0, 2).join('')}·${chars.slice(2).join('')}` : plate;
}

const ZH: Record<string, string> = {
  suv: 'SUV', van: '面包车', red: '红', orange: '橙', yellow: '黄', green: '绿', blue: '蓝', purple: '紫', white: '白', black: '黑',
  grey: '灰', silver: '银', brown: '棕', male: '男', female: '女', car: '小汽车', bus: '公交车', truck: '货车', motorcycle: '摩托车', bicycle: '自行车', person: '行人',
};
export const valueLabel = (lang: string, v: string): string => (lang === 'zh-CN' ? ZH[v] ?? v : v);

/** `<input type="datetime-local">` value <-> epoch ms, in the viewer's time zone. */
export function fromLocalInput(v: string): number | undefined {
  if (!v) return undefined;
  const ms = new Date(v).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}
export function toLocalInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * `<input type="date">` value <-> epoch ms. An expiry date means the entry still matches all that day in the
 * viewer's time zone, so the date reads as the last millisecond of it.
 */
export function fromLocalDate(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59, 999).getTime();
}
export function toLocalDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
