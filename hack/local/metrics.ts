// A local process's Prometheus /metrics, as benches read them: samples by series (`name{labels}`), the change
// between two readings, and a quantile of a histogram's change (from its cumulative buckets, as Prometheus'
// histogram_quantile does: linear within the bucket the rank falls in).

export type Samples = Map<string, number>;

/** Every sample of a /metrics text by its series, `name{labels}` exactly as printed. */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    const v = Number(line.slice(at + 1));
    if (at > 0 && !Number.isNaN(v)) out.set(line.slice(0, at), v);
  }
  return out;
}

export async function readMetrics(port: number): Promise<Samples> {
  return parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

/** What moved between two readings of the same process (counters and histogram buckets), by series. */
export function metricsDelta(a: Samples, b: Samples): Samples {
  const out: Samples = new Map();
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) !== 0) out.set(k, v - (a.get(k) ?? 0));
  return out;
}

/** The labels of a series as a record: `x{a="1",b="2"}` -> { a: '1', b: '2' }. */
export function labelsOf(series: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of series.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1] as string] = m[2] as string;
  return out;
}

export interface HistogramSummary { count: number; sum: number; p50: number; p99: number }

/**
 * A histogram's count, sum and p50/p99 (seconds) among the samples (typically a delta), for the series whose labels
 * include `match`. A rank in the +Inf bucket reads as the highest finite bound.
 */
export function histogram(samples: Samples, name: string, match: Record<string, string>): HistogramSummary {
  const fits = (series: string) => Object.entries(match).every(([k, v]) => labelsOf(series)[k] === v);
  const buckets: [number, number][] = [];
  let count = 0;
  let sum = 0;
  for (const [series, v] of samples) {
    if (!fits(series)) continue;
    if (series.startsWith(`${name}_bucket{`)) {
      const le = labelsOf(series).le ?? '';
      buckets.push([le === '+Inf' ? Infinity : Number(le), v]);
    } else if (series.startsWith(`${name}_count`)) count = v;
    else if (series.startsWith(`${name}_sum`)) sum = v;
  }
  buckets.sort((x, y) => x[0] - y[0]);
  const q = (p: number): number => {
    if (!count) return NaN;
    const rank = p * count;
    let lower = 0;
    let below = 0;
    for (const [le, c] of buckets) {
      if (c >= rank) {
        if (le === Infinity) return lower;
        return c === below ? le : lower + ((le - lower) * (rank - below)) / (c - below);
      }
      lower = le;
      below = c;
    }
    return lower;
  };
  return { count, sum, p50: q(0.5), p99: q(0.99) };
}
