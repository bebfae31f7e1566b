// PromQL pieces the dashboards share: the label matchers that apply the tag variables.

/** Label matchers for the tokenfuse_* counters. */
export function counterFilter(single = false, extra = ''): string {
  const dept = single ? 'department="$department"' : 'department=~"$department"';
  const base = `${dept}, project=~"$project", environment=~"$environment", model=~"$model"`;
  return `{${base}${extra ? `, ${extra}` : ''}}`;
}

/** Label matchers for the gen_ai_* histograms (model is `gen_ai_request_model` there). */
export function histogramFilter(single = false, extra = ''): string {
  const dept = single ? 'department="$department"' : 'department=~"$department"';
  const base = `${dept}, project=~"$project", environment=~"$environment", gen_ai_request_model=~"$model"`;
  return `{${base}${extra ? `, ${extra}` : ''}}`;
}

export const PER_HOUR = 'Rates are per hour: rate() per second × 3600.';
