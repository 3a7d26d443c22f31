/**
 * Reads GET /metrics the way Prometheus does: the text exposition format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats/#text-based-format),
 * strictly. Every sample must sit under its family's `# TYPE` line, names and
 * label names must be valid, label values are unescaped, and a histogram's
 * buckets must be cumulative with `+Inf` equal to `_count`. A line it cannot
 * read fails the test that scraped it.
 *
 * Written here because parse-prometheus-text-format (the registry's one parser)
 * folds all series of a labelled histogram into one object, losing their
 * labels, `_count` and `_sum` (tried with prom-client 15.1 output).
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

export async function scrape(url: string, token?: string): Promise<Map<string, Family>> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
  if (!res.headers.get('content-type')?.startsWith('text/plain; version=0.0.4'))
    throw new Error(`unexpected content-type ${res.headers.get('content-type')}`);
  return parseExposition(await res.text());
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      current = familyOf(families, meta[2]!, line);
      if (meta[1] === 'HELP') current.help = meta[3] ?? '';
      else current.type = typeOf(meta[3], line);
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = parseSample(line);
    if (!current || !belongsTo(sample.name, current)) throw new Error(`sample outside its family: ${line}`);
    current.samples.push(sample);
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function familyOf(families: Map<string, Family>, name: string, line: string): Family {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name: ${line}`);
  let family = families.get(name);
  if (!family) {
    family = { name, type: 'untyped', help: '', samples: [] };
    families.set(name, family);
  } else if (family.samples.length > 0) throw new Error(`family ${name} appears twice`);
  return family;
}

function typeOf(word: string | undefined, line: string): Family['type'] {
  if (word === 'counter' || word === 'gauge' || word === 'histogram' || word === 'summary' || word === 'untyped')
    return word;
  throw new Error(`invalid TYPE line: ${line}`);
}

function parseSample(line: string): Sample {
  const m = SAMPLE.exec(line);
  if (!m) throw new Error(`invalid sample line: ${line}`);
  const labels: Record<string, string> = {};
  const body = m[3] ?? '';
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < body.length) {
    const at = LABEL.lastIndex;
    const l = LABEL.exec(body);
    if (!l || l.index !== at) throw new Error(`invalid labels: ${line}`);
    if (Object.hasOwn(labels, l[1]!)) throw new Error(`label ${l[1]} twice: ${line}`);
    labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    if (l[3] === '') break;
  }
  return { name: m[1]!, labels, value: parseValue(m[4]!, line) };
}

/** A float, or NaN / +Inf / -Inf (Go's ParseFloat, which Prometheus uses, takes them in any case). */
function parseValue(text: string, line: string): number {
  const special: Record<string, number> = { nan: NaN, '+inf': Infinity, inf: Infinity, '-inf': -Infinity };
  const key = text.toLowerCase();
  if (Object.hasOwn(special, key)) return special[key]!;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`invalid value: ${line}`);
  return n;
}

function belongsTo(sampleName: string, family: Family): boolean {
  if (sampleName === family.name) return family.type !== 'histogram';
  return (SUFFIXES[family.type] ?? []).some((s) => sampleName === family.name + s);
}

/** Cumulative buckets ending in +Inf, which equals the series' _count. */
function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name.endsWith('_bucket')) entry.buckets.push([parseValue(le ?? '', s.name), s.value]);
    if (s.name.endsWith('_count')) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    const isCumulative = buckets.every(([le, n], i) => i === 0 || (le > buckets[i - 1]![0] && n >= buckets[i - 1]![1]));
    if (!isCumulative || buckets.at(-1)?.[0] !== Infinity || buckets.at(-1)?.[1] !== count)
      throw new Error(`histogram ${family.name} ${key} is not cumulative up to +Inf = _count`);
  }
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const family = families.get(name) ?? families.get(base);
  return (family?.samples ?? [])
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Every label value of every sample, with the series it came from. */
export function labelValues(families: Map<string, Family>): { series: string; label: string; value: string }[] {
  return [...families.values()].flatMap((f) =>
    f.samples.flatMap((s) => Object.entries(s.labels).map(([label, value]) => ({ series: s.name, label, value }))),
  );
}
