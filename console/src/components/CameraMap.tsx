/**
 * Camera locations as an SVG scatter of lat/lon (no map tiles): enough to pick "the cameras over there".
 * Longitude is scaled by cos(latitude) so a city's layout keeps its shape.
 */
import type { Camera } from '../types';

const W = 320;
const H = 200;
const PAD = 18;

export function CameraMap({ cameras, selected, onToggle, title }: { cameras: Camera[]; selected: Set<string>; onToggle: (id: string) => void; title: string }) {
  const placed = cameras.filter((c) => c.location);
  if (placed.length === 0) return null;
  const lats = placed.map((c) => c.location!.lat);
  const lons = placed.map((c) => c.location!.lon);
  const k = Math.cos((((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI) / 180);
  const x0 = Math.min(...lons) * k, x1 = Math.max(...lons) * k;
  const y0 = Math.min(...lats), y1 = Math.max(...lats);
  const span = Math.max(x1 - x0, y1 - y0, 1e-6);
  const sx = (W - 2 * PAD) / span, sy = (H - 2 * PAD) / span;
  const s = Math.min(sx, sy);
  const cx = (W - (x1 - x0) * s) / 2, cy = (H - (y1 - y0) * s) / 2;
  return (
    <figure class="map">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="group" aria-label={title} data-testid="camera-map">
        <rect x="0" y="0" width={W} height={H} class="map-bg" />
        {placed.map((c) => {
          const x = cx + (c.location!.lon * k - x0) * s;
          const y = H - (cy + (c.location!.lat - y0) * s);
          const on = selected.has(c.id);
          return (
            <g class={`pin ${on ? 'on' : ''} state-${c.health.state}`} onClick={() => onToggle(c.id)} data-camera={c.id}>
              <circle cx={x} cy={y} r={on ? 7 : 5} />
              <text x={x + 9} y={y + 4}>{c.id}</text>
              <title>{`${c.name ?? c.id} (${c.location!.lat.toFixed(4)}, ${c.location!.lon.toFixed(4)})`}</title>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
