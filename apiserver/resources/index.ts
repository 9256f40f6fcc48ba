// Every public resource of upm.io/v1alpha1: one module each. A new resource is one more module and one more line.
import { clusters } from './clusters.ts';
import { mysqlservices } from './mysqlservices.ts';
import { operationlogs } from './operationlogs.ts';
import { projects } from './projects.ts';
import type { ResourceDefinition } from './types.ts';
import { users } from './users.ts';

export const RESOURCES: readonly ResourceDefinition[] = [projects, users, clusters, mysqlservices, operationlogs];
