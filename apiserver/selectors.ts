// Label and field selectors with the syntax and errors of the Kubernetes API (labels.Parse, fields.ParseSelector).
// Pure: a selector is parsed once per request and matched against each object.

export type LabelOp = 'in' | 'notin' | 'exists' | '!';
export interface LabelRequirement { key: string; op: LabelOp; values: string[] }
export interface FieldRequirement { field: string; op: '=' | '!='; value: string }

export class SelectorError extends Error {}

const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function checkKey(key: string): string {
  if (!labelKey.test(key) || key.length > 317) throw new SelectorError(`invalid label key "${key}"`);
  return key;
}
function checkValue(v: string): string {
  if (!labelValue.test(v)) throw new SelectorError(`invalid label value: "${v}": must be 63 characters or less and consist of alphanumerics, '-', '_' or '.'`);
  return v;
}

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new SelectorError(`unexpected ")" in "${selector}"`);
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  if (depth !== 0) throw new SelectorError(`unclosed "(" in "${selector}"`);
  out.push(cur);
  return out.map((t) => {
    if (t.trim() === '') throw new SelectorError(`empty term in "${selector}"`);
    return t.trim();
  });
}

export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (!selector.trim()) return [];
  return terms(selector).map((t) => {
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(t);
    if (m) {
      const values = (m[3] as string).split(',').map((v) => checkValue(v.trim()));
      return { key: checkKey(m[1] as string), op: m[2] as LabelOp, values };
    }
    m = /^(\S+?)\s*(==|!=|=)\s*(\S*)$/.exec(t);
    if (m) {
      const v = checkValue(m[3] as string);
      return { key: checkKey(m[1] as string), op: m[2] === '!=' ? 'notin' : 'in', values: [v] };
    }
    m = /^!\s*(\S+)$/.exec(t);
    if (m) return { key: checkKey(m[1] as string), op: '!', values: [] };
    if (/^\S+$/.test(t)) return { key: checkKey(t), op: 'exists', values: [] };
    throw new SelectorError(`unable to parse requirement: "${t}"`);
  });
}

export function matchLabels(reqs: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  for (const r of reqs) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const v = has ? (labels as Record<string, string>)[r.key] : undefined;
    switch (r.op) {
      case 'in': if (!has || !r.values.includes(v as string)) return false; break;
      case 'notin': if (has && r.values.includes(v as string)) return false; break;
      case 'exists': if (!has) return false; break;
      case '!': if (has) return false; break;
    }
  }
  return true;
}

/** Field selectors: `field=value`, `field==value`, `field!=value`, comma for AND; backslash escapes as in Go. */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  if (!selector.trim()) return [];
  return selector.split(/(?<!\\),/).map((raw) => {
    const t = raw.trim();
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(t);
    if (!m) throw new SelectorError(`invalid selector: '${t}'; can't understand '${t}'`);
    return { field: (m[1] as string).trim(), op: m[2] === '!=' ? '!=' : '=', value: (m[3] as string).replace(/\\(.)/g, '$1') };
  });
}

export function matchFields(reqs: FieldRequirement[], fields: Record<string, string>): boolean {
  for (const r of reqs) {
    const v = fields[r.field] ?? '';
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}
