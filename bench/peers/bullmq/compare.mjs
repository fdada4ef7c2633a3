// sandhost's queue rows and BullMQ's, measured in turn in the same window, with medians and
// ratios. Each round runs every row once, so that a slow moment of the machine falls on one
// round of every row rather than on all the runs of one.
//
//   node compare.mjs [--bench PATH] [--jobs 4000] [--rounds 3] [--json]
//
// --bench: sandhost-bench (default: build/bin/sandhost-bench of this checkout). --jobs: jobs
// per row and round, in all (sandhost-bench's rows run half on each of their 2 slots).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// A row that takes longer is killed and the comparison fails (each row ends within 10 minutes
// by its own bound, or fails itself).
const k_row_timeout_ms = 15 * 60 * 1000;

function parseArgs(argv) {
  const options = { bench: resolve(here, '../../../build/bin/sandhost-bench'), jobs: 4000, rounds: 3, json: false };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    if (arg === '--json') { options.json = true; continue; }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    if (arg === '--bench') options.bench = resolve(value);
    else if (arg === '--jobs' || arg === '--rounds') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 2) throw new Error(`${arg} takes a whole number of at least 2, not '${value}'`);
      options[arg.slice(2)] = n;
    } else throw new Error(`unknown option '${arg}'`);
  }
  if (!existsSync(options.bench)) throw new Error(`${options.bench}: no such file (build sandhost first, or pass --bench)`);
  return options;
}

// Each row: what it runs, and the one JSON figure set it prints.
function rows(options) {
  const perSlot = String(Math.ceil(options.jobs / 2));
  const sandhost = (row) => () => JSON.parse(execFileSync(options.bench, ['--row', row, '--jobs', perSlot, '--repeat', '1', '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: k_row_timeout_ms })).runs[0];
  const bullmq = (...args) => () => JSON.parse(execFileSync(process.execPath, [join(here, 'bench.mjs'), '--jobs', String(options.jobs), '--json', ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: k_row_timeout_ms })).runs[0];
  return [
    { name: 'sandhost queue fork', what: 'a fresh process per job', run: sandhost('queue-fork') },
    { name: 'sandhost queue reuse', what: 'a worker process kept for the next job', run: sandhost('queue-reuse') },
    { name: 'sandhost queue no sandbox', what: 'the task run in the host', run: sandhost('queue-none') },
    { name: 'BullMQ sandboxed', what: 'a child process kept for the next job', run: bullmq('--mode', 'sandboxed') },
    { name: 'BullMQ in-process', what: 'the task run in the worker', run: bullmq('--mode', 'inprocess') },
    { name: 'sandhost queue fork, prefetch', what: 'one job per enqueue, prefetch 16', run: sandhost('queue-fork-prefetch-single') },
    { name: 'sandhost queue fork, batches', what: '100 jobs per enqueue, prefetch 16', run: sandhost('queue-fork-prefetch') },
    { name: 'BullMQ sandboxed, batches', what: '100 jobs per addBulk', run: bullmq('--mode', 'sandboxed', '--batch', '100') },
  ];
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

function main() {
  const options = parseArgs(process.argv.slice(2));
  const table = rows(options);
  const runs = new Map(table.map((row) => [row.name, []]));
  for (let round = 0; round < options.rounds; ++round) {
    for (const row of table) {
      runs.get(row.name).push(row.run());
      if (!options.json) process.stderr.write('.');
    }
  }
  if (!options.json) process.stderr.write('\n');
  const summary = {};
  for (const row of table) {
    const figures = runs.get(row.name);
    summary[row.name] = {
      jobs_per_s: median(figures.map((f) => f.jobs_per_s)),
      range: [Math.min(...figures.map((f) => f.jobs_per_s)), Math.max(...figures.map((f) => f.jobs_per_s))],
      cpu_us_per_job: median(figures.map((f) => f.cpu_us_per_job)),
      runs: figures,
    };
  }
  const ratios = [
    ['sandhost queue fork', 'BullMQ sandboxed'],
    ['sandhost queue reuse', 'BullMQ sandboxed'],
    ['sandhost queue no sandbox', 'BullMQ in-process'],
    ['sandhost queue fork, prefetch', 'BullMQ sandboxed'],
    ['sandhost queue fork, batches', 'BullMQ sandboxed, batches'],
  ].map(([a, b]) => ({ a, b, ratio: Math.round((summary[a].jobs_per_s / summary[b].jobs_per_s) * 100) / 100 }));
  if (options.json) {
    console.log(JSON.stringify({ jobs: options.jobs, rounds: options.rounds, summary, ratios }));
    return;
  }
  console.log(`${options.jobs} jobs per row and round, ${options.rounds} rounds in turn, 2 at a time (median, range):`);
  for (const row of table) {
    const s = summary[row.name];
    console.log(`  ${row.name.padEnd(31)} ${String(Math.round(s.jobs_per_s)).padStart(6)} jobs/s  (${Math.round(s.range[0])}-${Math.round(s.range[1])})` +
      `   cpu ${String(s.cpu_us_per_job).padStart(5)} us/job   ${row.what}`);
  }
  for (const r of ratios) console.log(`  ${r.a} / ${r.b}: ${r.ratio.toFixed(2)}`);
  console.log('  (BullMQ\'s CPU a job leaves out its redis-server\'s; bench.mjs prints it apart)');
}

try {
  main();
} catch (e) {
  console.error(`compare.mjs: ${e.message}`);
  process.exit(1);
}
