// The cluster's own history of its partitions, for properties a poll could miss between two samples. In KRaft every
// change of a partition's replicas, ISR or leader, and every broker fenced or unregistered, is a record of the
// metadata log (__cluster_metadata), replicated to every controller and kept in its log directory. Kafka's
// DumpLogSegments decodes the segments; replaying them gives every state each partition went through, in order, with
// the time the controller wrote it.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { kafkaTool } from '../agent/engines/kafka.ts';

/** One decoded metadata record. */
export interface MetadataRecord { offset: number; at: number; type: string; data: Record<string, unknown> }

/** Every record in the metadata log under `logDir` (the broker's log.dirs), oldest first. */
export async function metadataRecords(logDir: string): Promise<MetadataRecord[]> {
  const dir = join(logDir, '__cluster_metadata-0');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort().map((f) => join(dir, f));
  if (!files.length) throw new Error(`no metadata log segment in ${dir}`);
  const out = await kafkaTool('metadata log', 'kafka.tools.DumpLogSegments', ['--cluster-metadata-decoder', '--deep-iteration', '--files', files.join(',')], { timeoutMs: 120_000 });
  const records: MetadataRecord[] = [];
  for (const line of out.split('\n')) {
    const m = /offset: (\d+) CreateTime: (\d+).*?payload: (\{.*\})\s*$/.exec(line);
    if (!m) continue;
    const payload = JSON.parse(m[3] ?? '{}') as { type?: string; data?: Record<string, unknown> };
    records.push({ offset: Number(m[1]), at: Number(m[2]), type: payload.type ?? '', data: payload.data ?? {} });
  }
  if (!records.length) throw new Error(`DumpLogSegments decoded no record from ${files.join(', ')}:\n${out.slice(0, 2000)}`);
  return records;
}

export interface PartitionState { replicas: number[]; isr: number[]; leader: number }
/** A partition's state after a record, and when the controller wrote it. */
export interface Transition { at: number; offset: number; partition: string; state: PartitionState }
/** A broker leaving service: fenced (shut down, or its session lost) or unregistered. */
export interface BrokerExit { at: number; offset: number; broker: number; how: 'fenced' | 'unregistered'; holding: string[] }

const ids = (v: unknown): number[] | undefined => (Array.isArray(v) ? v.map(Number) : undefined);

/**
 * Replays the records: every partition state in order (named "topic-partition"), and every broker exit with the
 * partitions whose replicas still named the broker at that moment.
 */
export function replay(records: MetadataRecord[]): { transitions: Transition[]; exits: BrokerExit[] } {
  const topics = new Map<string, string>();
  const parts = new Map<string, PartitionState>();
  const transitions: Transition[] = [];
  const exits: BrokerExit[] = [];
  const holding = (broker: number) => [...parts].filter(([, s]) => s.replicas.includes(broker)).map(([p]) => p).sort();
  for (const r of records) {
    const d = r.data;
    switch (r.type) {
      case 'TOPIC_RECORD': topics.set(String(d.topicId), String(d.name)); break;
      case 'REMOVE_TOPIC_RECORD': {
        const name = topics.get(String(d.topicId));
        for (const p of [...parts.keys()]) if (name && p.startsWith(`${name}-`) && /^\d+$/.test(p.slice(name.length + 1))) parts.delete(p);
        break;
      }
      case 'PARTITION_RECORD':
      case 'PARTITION_CHANGE_RECORD': {
        const key = `${topics.get(String(d.topicId)) ?? String(d.topicId)}-${String(d.partitionId)}`;
        const was = parts.get(key) ?? { replicas: [], isr: [], leader: -1 };
        // A change record carries only what changed; leader -2 means "unchanged".
        const leader = typeof d.leader === 'number' && d.leader !== -2 ? d.leader : was.leader;
        const state = { replicas: ids(d.replicas) ?? was.replicas, isr: ids(d.isr) ?? was.isr, leader };
        parts.set(key, state);
        transitions.push({ at: r.at, offset: r.offset, partition: key, state });
        break;
      }
      case 'FENCE_BROKER_RECORD':
        exits.push({ at: r.at, offset: r.offset, broker: Number(d.id), how: 'fenced', holding: holding(Number(d.id)) });
        break;
      case 'BROKER_REGISTRATION_CHANGE_RECORD':
        if (d.fenced === 1 || d.fenced === true) exits.push({ at: r.at, offset: r.offset, broker: Number(d.brokerId), how: 'fenced', holding: holding(Number(d.brokerId)) });
        break;
      case 'UNREGISTER_BROKER_RECORD':
        exits.push({ at: r.at, offset: r.offset, broker: Number(d.brokerId), how: 'unregistered', holding: holding(Number(d.brokerId)) });
        break;
      default:
    }
  }
  return { transitions, exits };
}
