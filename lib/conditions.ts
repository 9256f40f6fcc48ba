// status.conditions as the API conventions want them: one entry per type, lastTransitionTime moves only when the
// status flips, observedGeneration says which spec the condition judged.

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/** Returns a new conditions list with `c` set; the transition time is kept when the status did not change. */
export function setCondition(list: Condition[] | undefined, c: Condition, now = new Date()): Condition[] {
  const existing = list?.find((x) => x.type === c.type);
  const next: Condition = {
    ...c,
    lastTransitionTime: existing && existing.status === c.status && existing.lastTransitionTime ? existing.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  return [...(list ?? []).filter((x) => x.type !== c.type), next].sort((a, b) => a.type.localeCompare(b.type));
}

export function getCondition(list: Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}
