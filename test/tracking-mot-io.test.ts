import test from 'ava';
import { TrackingError } from '../common/errors.js';
import { formatMot, parseMot } from '../tracking/index.js';

test('tracking - mot io round-trips rows and skips blank lines', (t) => {
  const rows = parseMot('1,-1,10,20,30,40,0.9,-1,-1,-1\n\n2,3,1.5,2.5,3,4,1,-1,-1,-1\n');
  t.deepEqual(rows, [
    { frame: 1, id: -1, x: 10, y: 20, w: 30, h: 40, conf: 0.9 },
    { frame: 2, id: 3, x: 1.5, y: 2.5, w: 3, h: 4, conf: 1 },
  ]);
  t.deepEqual(parseMot(formatMot(rows)), rows);
  t.is(formatMot(rows.slice(1)), '2,3,1.5,2.5,3,4,1,-1,-1,-1\n');
});

const BAD: [string, string, number][] = [
  ['wrong field count', '1,-1,10,20,30,40,0.9,-1,-1,-1\n1,2,3\n', 2],
  ['too many fields', '1,-1,10,20,30,40,0.9,-1,-1,-1,5,6\n', 1],
  ['non-number', '1,-1,10,20,30,40,0.9,-1,-1,-1\n\n3,-1,abc,20,30,40,0.9,-1,-1,-1\n', 3],
  ['empty field', '1,-1,,20,30,40,0.9,-1,-1,-1\n', 1],
  ['negative width', '1,-1,10,20,-30,40,0.9,-1,-1,-1\n', 1],
  ['negative height', '1,-1,10,20,30,40,0.9\n2,-1,10,20,30,-1,0.9\n', 2],
  ['fractional frame', '1.5,-1,10,20,30,40,0.9,-1,-1,-1\n', 1],
];

for (const [what, text, line] of BAD) {
  test(`tracking - mot io rejects ${what} with the line number`, (t) => {
    const err = t.throws(() => parseMot(text, 'det.txt'), { instanceOf: TrackingError });
    t.is(err?.code, 'TRACKING_BAD_MOT_LINE');
    t.is(err?.detail['line'], line);
    t.true(err?.message.includes(`det.txt:${line}:`));
  });
}
