import { describe, expect, it } from '@jest/globals';
import { connectionSecret, connectionSettled, connectionValues, type SecretObject } from './connection.ts';
import type { ServiceStatus } from './contract.ts';
import { service } from './desired/fixtures.testing.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const creds = (data: Record<string, string>): SecretObject => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-credentials', namespace: 'shop' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});
const status: ServiceStatus = {
  endpoints: [
    { name: 'db-readonly', role: 'readonly', addresses: ['127.0.10.2'], port: 3306 },
    { name: 'db-readwrite', role: 'readwrite', addresses: ['127.0.10.1'], port: 3306 },
  ],
};
const svc = service('MysqlService', 'db', { engine: 'mariadb', version: '10.11', placement: { cluster: 'm1' } });

describe('the connection Secret', () => {
  it('holds the readwrite Service name on the member, its port and the application account', () => {
    const all = creds({ 'admin-username': 'upm_admin', 'admin-password': 'root-secret', 'app-username': 'upm_app', 'app-password': 'p@ss' });
    expect(connectionValues(svc, 'mysqlservice', status, all)).toEqual({ host: 'db-readwrite.shop.svc', port: '3306', user: 'upm_app', password: 'p@ss' });
  });

  it('is not written before the readwrite endpoint or the application account are known', () => {
    expect(connectionValues(svc, 'mysqlservice', { endpoints: [] }, creds({ 'app-username': 'upm_app', 'app-password': 'x' }))).toBeUndefined();
    expect(connectionValues(svc, 'mysqlservice', status, undefined)).toBeUndefined();
    // A Secret made by a template without the app role: the platform accounts are never handed out instead.
    expect(connectionValues(svc, 'mysqlservice', status, creds({ 'admin-username': 'upm_admin', 'admin-password': 'root-secret' }))).toBeUndefined();
  });

  it('has host and port only for Elasticsearch 8, even when its Secret has accounts', () => {
    const es = { endpoints: [{ name: 'es-http', role: 'readwrite', addresses: [], port: 9200 }] };
    const elastic = service('ElasticsearchService', 'es', { distribution: 'elasticsearch', version: '8.17', placement: { cluster: 'm1' } });
    expect(connectionValues(elastic, 'elasticsearchservice', es, creds({ 'admin-username': 'admin', 'admin-password': 'x', 'app-username': 'upm_app', 'app-password': 'y' }))).toEqual({ host: 'es-http.shop.svc', port: '9200' });
  });

  it('names OpenSearch\'s application account, never its admin account', () => {
    const es = { endpoints: [{ name: 'es-readwrite', role: 'readwrite', addresses: [], port: 9200 }] };
    const search = service('ElasticsearchService', 'es', { distribution: 'opensearch', version: '2.19', placement: { cluster: 'm1' } });
    expect(connectionValues(search, 'elasticsearchservice', es, creds({ 'admin-username': 'upm_admin', 'admin-password': 'x', 'app-username': 'upm_app', 'app-password': 'y' })))
      .toEqual({ host: 'es-readwrite.shop.svc', port: '9200', user: 'upm_app', password: 'y' });
    // Before the Secret has the application account nothing is handed out, least of all the admin account.
    expect(connectionValues(search, 'elasticsearchservice', es, creds({ 'admin-username': 'upm_admin', 'admin-password': 'x' }))).toBeUndefined();
  });

  it('has ZooKeeper\'s digest application account, never its super user', () => {
    const zk = { endpoints: [{ name: 'zk-client', role: 'readwrite', addresses: [], port: 2181 }] };
    expect(connectionValues(svc, 'zookeeperservice', zk, creds({ 'admin-username': 'super', 'admin-password': 'x' }))).toBeUndefined();
    expect(connectionValues(svc, 'zookeeperservice', zk, creds({ 'admin-username': 'super', 'admin-password': 'x', 'app-username': 'upm_app', 'app-password': 'y' })))
      .toEqual({ host: 'zk-client.shop.svc', port: '2181', user: 'upm_app', password: 'y' });
  });

  it('names Kafka\'s application account, never its admin account', () => {
    const kafka = { endpoints: [{ name: 'ev-bootstrap', role: 'readwrite', addresses: [], port: 9092 }] };
    expect(connectionValues(svc, 'kafkaservice', kafka, creds({ 'admin-username': 'admin', 'admin-password': 'x', 'app-username': 'upm_app', 'app-password': 'y' })))
      .toEqual({ host: 'ev-bootstrap.shop.svc', port: '9092', user: 'upm_app', password: 'y' });
    // A cluster whose Secret predates the application account: nothing is handed out until the account is there.
    expect(connectionValues(svc, 'kafkaservice', kafka, creds({ 'admin-username': 'admin', 'admin-password': 'x' }))).toBeUndefined();
  });

  it('is labelled as the hub\'s, owned by nothing, and settled only when its data and labels are exactly those wanted', () => {
    const want = connectionSecret(svc, 'mysqlservice', { host: 'h', port: '1', user: 'upm_app', password: 'p' });
    expect(want.metadata).toEqual({
      name: 'db-connection', namespace: 'shop',
      labels: { 'app.kubernetes.io/managed-by': 'upm-hub', 'upm.io/service-kind': 'mysqlservice', 'upm.io/service': 'db', 'upm.io/project': 'shop' },
    });
    expect(want.type).toBe('Opaque');
    expect(want.data?.password).toBe(b64('p'));
    expect(connectionSettled(want, undefined)).toBe(false);
    expect(connectionSettled(want, { ...want, metadata: { ...want.metadata, resourceVersion: '7' } })).toBe(true);
    expect(connectionSettled(want, { ...want, data: { ...want.data, password: b64('other') } })).toBe(false);
    expect(connectionSettled(want, { ...want, data: { ...want.data, extra: b64('x') } })).toBe(false);
    expect(connectionSettled(want, { ...want, metadata: { ...want.metadata, labels: {} } })).toBe(false);
  });
});
