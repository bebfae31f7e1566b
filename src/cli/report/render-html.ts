import type { Report } from './figures.js';
export async function renderHtml(report: Report): Promise<string> {
  return JSON.stringify(report);
}
