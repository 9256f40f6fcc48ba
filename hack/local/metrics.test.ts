import { describe, expect, it } from '@jest/globals';
import { histogram, labelsOf, metricsDelta, parseMetrics } from './metrics.ts';

/** A histogram `wait` of one label set as /metrics prints it: cumulative counts at le 0.1, 1 and +Inf. */
const wait = (name: string, counts: [number, number, number], sum: number) => [
  ...([['0.1', counts[0]], ['1', counts[1]], ['+Inf', counts[2]]] as const).map(([le, c]) => `wait_bucket{name="${name}",le="${le}"} ${c}`),
  `wait_sum{name="${name}"} ${sum}`, `wait_count{name="${name}"} ${counts[2]}`,
].join('\n');
const before = parseMetrics(['# HELP x help', '# TYPE x histogram', wait('ops', [1, 1, 1], 0.05), wait('other', [5, 5, 5], 0.1), 'calls_total{method="GET",code="200"} 3'].join('\n'));

describe('metrics of a local process', () => {
  it('reads samples by series and labels', () => {
    expect(before.get('calls_total{method="GET",code="200"}')).toBe(3);
    expect(labelsOf('calls_total{method="GET",code="200"}')).toEqual({ method: 'GET', code: '200' });
  });

  it('gives the quantiles of what a histogram gained between two readings, for one label set', () => {
    const after = parseMetrics([wait('ops', [51, 101, 101], 30.05), wait('other', [5, 5, 5], 0.1), 'calls_total{method="GET",code="200"} 7'].join('\n'));
    const d = metricsDelta(before, after);
    expect(d.get('calls_total{method="GET",code="200"}')).toBe(4);
    expect(d.has('wait_count{name="other"}')).toBe(false);
    const h = histogram(d, 'wait', { name: 'ops' });
    expect(h.count).toBe(100);
    expect(h.sum).toBeCloseTo(30);
    expect(h.p50).toBeCloseTo(0.1); // the 50th of 100 is the last of the 50 at or under 0.1
    expect(h.p99).toBeCloseTo(0.1 + 0.9 * (49 / 50)); // linear within (0.1, 1]
    expect(histogram(d, 'wait', { name: 'other' }).count).toBe(0);
  });

  it('reads a rank in the +Inf bucket as the highest finite bound', () => {
    const h = histogram(parseMetrics('w_bucket{le="1"} 0\nw_bucket{le="+Inf"} 2\nw_count 2\nw_sum 9\n'), 'w', {});
    expect(h.p99).toBe(1);
  });
});
