// Template variables: the data source picker and the tag variables every dashboard filters by.
import { importedDatasource } from './import.ts';
import { DATASOURCE, type Variable } from './types.ts';

/** `$datasource`: every panel, target and query variable uses it (see ./import.ts). */
export function datasourceVariable(): Variable {
  return {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: importedDatasource(),
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    refresh: 1,
    regex: '',
    skipUrlSync: false,
  };
}

export function queryVariable(
  name: string,
  label: string,
  query: string,
  opts: { multi: boolean; description: string },
): Variable {
  return {
    name,
    label,
    type: 'query',
    datasource: { ...DATASOURCE },
    definition: query,
    query,
    description: opts.description,
    current: {},
    hide: 0,
    multi: opts.multi,
    includeAll: opts.multi,
    ...(opts.multi ? { allValue: '.*' } : {}),
    options: [],
    // 2: refresh on time range change, so values seen in the range are offered.
    refresh: 2,
    regex: '',
    skipUrlSync: false,
    sort: 1,
  };
}

/**
 * department, project, environment, model from tokenfuse_requests_total (every call has a
 * series there, including blocked and failed ones). Each is narrowed by the ones before it.
 * `single` makes department a single-select variable without "All" (the drill-down).
 */
export function tagVariables(single = false): Variable[] {
  const dept = single ? 'department="$department"' : 'department=~"$department"';
  return [
    queryVariable(
      'department',
      'Department',
      'label_values(tokenfuse_requests_total, department)',
      {
        multi: !single,
        description: 'The `department` tag of the calls (`unknown` when a call had none).',
      },
    ),
    queryVariable(
      'project',
      'Project',
      `label_values(tokenfuse_requests_total{${dept}}, project)`,
      { multi: true, description: 'The `project` tag of the calls.' },
    ),
    queryVariable(
      'environment',
      'Environment',
      `label_values(tokenfuse_requests_total{${dept}, project=~"$project"}, environment)`,
      { multi: true, description: 'The `environment` tag of the calls.' },
    ),
    queryVariable(
      'model',
      'Model',
      `label_values(tokenfuse_requests_total{${dept}, project=~"$project", environment=~"$environment"}, model)`,
      {
        multi: true,
        description:
          'The model the call asked for (`model` on tokenfuse_* series, `gen_ai_request_model` on the gen_ai_* histograms).',
      },
    ),
  ];
}
