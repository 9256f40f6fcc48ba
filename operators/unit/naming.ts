// Names and labels the Unit Operator gives to what it creates, in one place so every controller agrees.

export const GROUP = 'unit.upm.io';
export const LABEL_UNITSET = `${GROUP}/unitset`;
export const LABEL_UNIT = `${GROUP}/unit`;
export const LABEL_ORDINAL = `${GROUP}/ordinal`;
export const ANNOTATION_REVISION = `${GROUP}/revision`;
export const ANNOTATION_CONFIG_HASH = `${GROUP}/config-hash`;
/** Hash of a unit config without its parameter values: equal bases mean only parameters changed. */
export const ANNOTATION_CONFIG_BASE = `${GROUP}/config-base`;
/** ConfigMap key of the config's inputs (template, context, parameters), which the unit agent renders from. */
export const CONFIG_INPUT_KEY = 'upm-config-input.json';
export const ANNOTATION_MAINTENANCE = `${GROUP}/maintenance`;
export const ANNOTATION_PVC_OWNED_BY_UNITSET = `${GROUP}/pvc-deleted-with-unitset`;
export const ANNOTATION_UPDATE_ON_DELETE = `${GROUP}/update-on-delete`;
/** On a Unit the UnitSet stopped (spec.stopped): starting the UnitSet starts it again, and only such units. */
export const ANNOTATION_STOPPED_BY_UNITSET = `${GROUP}/stopped-by-unitset`;
/** On a UnitSet with updateStrategy Managed: the units (comma-separated) that may be updated now. */
export const ANNOTATION_UPDATE_NEXT = `${GROUP}/update-next`;
export const FIELD_MANAGER = 'upm-unit-operator';
export const COMPONENT = 'upm-unit-operator';
export const CREDENTIALS_PLACEHOLDER = 'UPM_CREDENTIALS_SECRET';
export const CATALOG_NAMESPACE = 'upm-system';
export const CATALOG_NAME = 'upm-engine-catalog';

export const unitName = (unitSet: string, ordinal: number): string => `${unitSet}-${ordinal}`;
export const headlessServiceName = (unitSet: string): string => `${unitSet}-headless`;
export const credentialsSecretName = (unitSet: string): string => `${unitSet}-credentials`;
export const configMapName = (unit: string): string => `${unit}-config`;
export const claimName = (unit: string, volume: string): string => `${unit}-${volume}`;
export const templateName = (engine: string, version: string): string => `${engine}-${version}`;

export function ordinalOf(unit: { metadata: { labels?: Record<string, string> } }): number {
  const v = unit.metadata.labels?.[LABEL_ORDINAL];
  return v === undefined ? -1 : Number(v);
}

export function selectorLabels(unitSet: string): Record<string, string> {
  return { [LABEL_UNITSET]: unitSet };
}
