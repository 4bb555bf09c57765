/** A small hand-drawn SVG time series: the line of counts, a dashed threshold, the latest value. */
export interface Point { at: number; value: number }

export function Sparkline({ points, threshold, width = 220, height = 48, label }: { points: Point[]; threshold?: number; width?: number; height?: number; label: string }) {
  if (points.length === 0) return <svg width={width} height={height} aria-label={label} class="spark" />;
  const t0 = points[0]!.at;
  const t1 = Math.max(points[points.length - 1]!.at, t0 + 1);
  const vmax = Math.max(1, threshold ?? 0, ...points.map((p) => p.value)) * 1.15;
  const x = (at: number): number => ((at - t0) / (t1 - t0)) * (width - 4) + 2;
  const y = (v: number): number => height - 2 - (v / vmax) * (height - 4);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const last = points[points.length - 1]!;
  return (
    <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} class="spark" role="img" aria-label={label}>
      {threshold !== undefined && <line x1="0" x2={width} y1={y(threshold)} y2={y(threshold)} class="spark-threshold" />}
      <path d={d} class="spark-line" />
      <circle cx={x(last.at)} cy={y(last.value)} r="2.5" class="spark-dot" />
    </svg>
  );
}
