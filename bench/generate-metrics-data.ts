/**
 * Generates (or reuses) the issue-7 metrics data set without measuring anything:
 * one workspace with 1,000,000 workflow executions and 1,000,000 messages over 120 days
 * (bench/lib/metrics-data.ts). `npm run bench -- --only metrics` does the same before it measures.
 *
 *   node --import tsx bench/generate-metrics-data.ts --dialect sqlite
 *   node --import tsx bench/generate-metrics-data.ts --dialect postgres --fresh
 *   node --import tsx bench/generate-metrics-data.ts --executions 20000 --messages 20000 --threads 400
 *   node --import tsx bench/generate-metrics-data.ts --drop            (removes the kept data sets)
 *
 * Needs a build (`npm run build`): the setup runs against `node dist/cli.js start`.
 */
import { parseArgs } from 'node:util';
import { postgresReachable, type BenchDialect } from './lib/harness.js';
import { FULL_SPEC, dropMetricsDataset, ensureMetricsDataset, type DatasetSpec } from './lib/metrics-data.js';

const { values } = parseArgs({
  options: {
    dialect: { type: 'string' },
    fresh: { type: 'boolean', default: false },
    drop: { type: 'boolean', default: false },
    executions: { type: 'string' },
    messages: { type: 'string' },
    threads: { type: 'string' },
    days: { type: 'string' },
  },
});

const count = (value: string | undefined, fallback: number) => (value === undefined ? fallback : Number(value));
const spec: DatasetSpec = {
  executions: count(values.executions, FULL_SPEC.executions),
  messages: count(values.messages, FULL_SPEC.messages),
  threads: count(values.threads, FULL_SPEC.threads),
  days: count(values.days, FULL_SPEC.days),
};
if (!Object.values(spec).every((n) => Number.isInteger(n) && n > 0)) throw new Error(`sizes must be positive whole numbers: ${JSON.stringify(spec)}`);

const pgUp = await postgresReachable();
const dialects = (values.dialect ? [values.dialect as BenchDialect] : (['sqlite', 'postgres'] as BenchDialect[])).filter((d) => d === 'sqlite' || pgUp);

for (const dialect of dialects) {
  if (values.drop) {
    await dropMetricsDataset(dialect);
    process.stdout.write(`dropped the ${dialect} metrics data set\n`);
    continue;
  }
  const { dataset, cached } = await ensureMetricsDataset(dialect, spec, undefined, { fresh: values.fresh });
  process.stdout.write(`${JSON.stringify({ dialect, cached, counts: dataset.counts, timings: dataset.timings, rollupRows: dataset.rollupRows, sizeMb: dataset.sizeMb })}\n`);
}
process.exit(0);
