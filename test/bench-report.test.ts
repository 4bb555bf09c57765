/**
 * The benchmark reports' arithmetic and shapes: nearest-rank percentiles, the capacity verdict, and an SVG
 * chart that is well-formed with missing points. Timing itself is never asserted (non-negotiable 5).
 */
import test from 'ava';
import { judge } from '../bench/capacity.js';
import type { PipelineRun } from '../bench/pipeline-run.js';
import { latencyStats, lineChart, percentile, table } from '../bench/report.js';

test('bench - percentiles are nearest-rank and empty samples give null', (t) => {
  const s = Array.from({ length: 100 }, (_, i) => i + 1);
  t.is(percentile(s, 50), 50);
  t.is(percentile(s, 99), 99);
  t.is(percentile(s, 100), 100);
  t.is(percentile([], 50), null);
  const l = latencyStats([30, 10, 20]);
  t.deepEqual([l.n, l.p50_ms, l.max_ms, l.mean_ms], [3, 20, 30, 20]);
});

const run = (over: { per: number; drop: number; first: number; last: number }): PipelineRun => ({
  handled_fps_per_stream: over.per, drop_pct: over.drop,
  queue: { capacity_frames: 8, mean_depth_first_third: over.first, mean_depth_last_third: over.last, max_depth: 4 },
} as unknown as PipelineRun);

test('bench - capacity verdict names each failed criterion', (t) => {
  t.deepEqual(judge(run({ per: 4.9, drop: 0.5, first: 1, last: 1.2 }), 5), []);
  const reasons = judge(run({ per: 3, drop: 12, first: 1, last: 3.5 }), 5);
  t.is(reasons.length, 3);
  t.regex(reasons[0]!, /handled 3\.00 fps per camera/);
  t.regex(reasons[1]!, /12\.0 % of frames dropped/);
  t.regex(reasons[2]!, /queue depth grew/);
});

test('bench - chart is one svg element with a path per series and survives null points', (t) => {
  const svg = lineChart({
    title: 'a <b> & c', xLabel: 'streams', leftLabel: 'fps', rightLabel: 'ms',
    series: [{ name: 'analysed', axis: 'left', points: [[1, 5], [2, 9]] }, { name: 'p50', axis: 'right', points: [[1, null], [2, 300]] }],
  });
  t.true(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  t.is(svg.match(/<path /g)?.length, 2);
  t.true(svg.includes('a &lt;b&gt; &amp; c'));
  t.false(svg.includes('NaN'));
});

test('bench - markdown table has a separator row aligned right for numbers', (t) => {
  const md = table(['n', 'fps'], [['1', '5.0']], true).split('\n');
  t.is(md[1], '| --- | ---: |');
});
