import { describe, expect, it } from '@jest/globals';
import { ContractValidator, loadCorrectedSpec, type Exchange } from './openapi.js';

const x = (over: Partial<Exchange>): Exchange => ({
  method: 'GET',
  path: '/services',
  query: new URLSearchParams(),
  requestBody: undefined,
  status: 200,
  contentType: 'application/json',
  responseBody: [],
  ...over,
});

describe('contract validator and overlay', () => {
  const validator = new ContractValidator();

  it('applies every overlay action, each with a note naming a section of the notes', () => {
    const { actions } = loadCorrectedSpec();
    expect(actions.length).toBeGreaterThan(10);
    for (const a of actions) expect(a.note).toMatch(/§\d+/);
  });

  it('prefers literal path segments over parameters', () => {
    expect(validator.template('/projects/abc/environments')).toBe('/projects/{uuid}/environments');
    expect(validator.template('/projects/abc/staging')).toBe('/projects/{uuid}/{environment_name_or_uuid}');
    expect(validator.template('/services/abc/envs/bulk')).toBe('/services/{uuid}/envs/bulk');
  });

  it('flags requests the controller would reject', () => {
    const body = { project_uuid: 'p', server_uuid: 's', environment_name: 'production', docker_compose_raw: 'eA==' };
    expect(validator.validate(x({ method: 'POST', path: '/services', requestBody: body, status: 201, responseBody: { uuid: 'u', domains: [] } }))).toEqual([]);
    expect(validator.validate(x({ method: 'POST', path: '/services', requestBody: { ...body, connect_to_docker_network: true }, status: 201, responseBody: { uuid: 'u', domains: [] } }))).toEqual([
      expect.stringContaining('must NOT have additional properties (connect_to_docker_network)'),
    ]);
    expect(validator.validate(x({ method: 'DELETE', path: '/services/u', query: new URLSearchParams('purge=1'), responseBody: { message: 'ok' } }))).toEqual([
      'DELETE /services/u → 200: query parameter purge not declared',
    ]);
    expect(validator.validate(x({ method: 'PUT', path: '/services' }))).toEqual(['PUT /services → 200: PUT /services not in the spec']);
  });

  it('flags responses missing what the daemon reads', () => {
    const service = { uuid: 'u', name: 'n', environment_id: 1, status: 'exited', description: null };
    expect(validator.validate(x({ responseBody: [service] }))).toEqual([]);
    const { status: _status, ...withoutStatus } = service;
    expect(validator.validate(x({ responseBody: [withoutStatus] }))).toEqual([
      expect.stringContaining("must have required property 'status'"),
    ]);
    expect(validator.validate(x({ status: 204, responseBody: '' }))).toEqual(['GET /services → 204: success status not documented']);
    expect(validator.validate(x({ status: 500, responseBody: { nope: 1 } }))).toEqual([
      expect.stringContaining("must have required property 'message'"),
    ]);
    expect(validator.validate(x({ method: 'POST', path: '/services', requestBody: {}, status: 422, responseBody: { message: 'Validation failed.', errors: { docker_compose_raw: 'The docker_compose_raw should be base64 encoded.' } } }))).toEqual([
      expect.stringContaining("must have required property 'server_uuid'"),
      expect.stringContaining("must have required property 'project_uuid'"),
    ]);
  });
});
