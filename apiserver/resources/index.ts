// Every public resource of upm.io/v1alpha1: one module each (the six data service kinds share one, services.ts,
// over their descriptions in service-kinds.ts). A new resource is one more module and one more line.
import { clusters } from './clusters.ts';
import { operationlogs } from './operationlogs.ts';
import { operations } from './operations.ts';
import { projects } from './projects.ts';
import { SERVICES } from './services.ts';
import type { ResourceDefinition } from './types.ts';
import { users } from './users.ts';

export const RESOURCES: readonly ResourceDefinition[] = [projects, users, clusters, ...SERVICES, operations, operationlogs];
