// BullMQ measured the way sandhost-bench measures its queue rows: N jobs of the trivial task
// (the payload a number, the result that number plus one, every answer checked), enqueued by
// one producer while a worker with concurrency C runs them, timed from the first enqueue to the
// last completion. The queue lives on a redis-server of its own (append-only file on, fsync
// every second, as sandhost-bench's Redis rows), started here and killed at the end.
//
//   node bench.mjs [--jobs 600] [--concurrency 2] [--mode sandboxed|inprocess] [--batch 1]
//                  [--repeat 1] [--json]
//
// sandboxed: BullMQ's sandboxed processor (a processor file run in child processes, which
// BullMQ keeps and reuses from job to job); inprocess: the processor runs in the worker's own
// process, no isolation at all. --batch 1 awaits each Queue.add in turn (as sandhost-bench's
// producer awaits each enqueue); --batch 100 uses Queue.addBulk.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';

const here = dirname(fileURLToPath(import.meta.url));
// The one definition of the task, run in BullMQ's child processes (sandboxed) or in the worker.
const processorFile = join(here, 'processor.cjs');
const processorFunction = createRequire(import.meta.url)(processorFile);

function parseArgs(argv) {
  const options = { jobs: 600, concurrency: 2, mode: 'sandboxed', batch: 1, repeat: 1, json: false };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    if (arg === '--json') { options.json = true; continue; }
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    ++i;
    if (arg === '--jobs' || arg === '--concurrency' || arg === '--batch' || arg === '--repeat') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${arg} takes a whole number of at least 1, not '${value}'`);
      options[arg.slice(2)] = n;
    } else if (arg === '--mode') {
      if (value !== 'sandboxed' && value !== 'inprocess') throw new Error(`--mode is sandboxed or inprocess, not '${value}'`);
      options.mode = value;
    } else {
      throw new Error(`unknown option '${arg}'`);
    }
  }
  return options;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// CPU time (user + system) of a process, in microseconds, from /proc; 0 once it is gone.
const ticksPerSecond = 100;  // USER_HZ: what /proc/PID/stat counts in on Linux
function cpuUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond;
  } catch {
    return 0;
  }
}

function childrenOf(pid) {
  const out = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/)) {
        if (child) out.push(Number(child));
      }
    } catch {
      // a thread that ended meanwhile
    }
  }
  return out;
}

async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'sandhost-peer-redis-'));
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--logfile', join(dir, 'redis.log'), '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'],
  { stdio: 'ignore' });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.once('error', (e) => { console.error(`bench.mjs: cannot start redis-server: ${e.message}`); process.exit(1); });
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // Killed with us should anything throw past main's own stop.
  process.once('exit', () => { if (server.exitCode === null) server.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});  // refused until the server listens: tried again below
  try {
    for (let i = 0; ; ++i) {
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch (e) {
        if (i >= 400) throw new Error(`redis-server did not answer on port ${port}: ${e.message}`);
        probe.disconnect();
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  } finally {
    probe.disconnect();
  }
  return { port, pid: server.pid, stop };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function measure(redis, options, run) {
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  const name = `peer-${run}`;
  const queue = new Queue(name, { connection });
  const total = options.jobs;
  const results = new Map();
  let failed = null;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });
  const processor = options.mode === 'sandboxed' ? processorFile : processorFunction;
  const worker = new Worker(name, processor, { connection, concurrency: options.concurrency, useWorkerThreads: false });
  worker.on('completed', (job, value) => {
    results.set(job.data.n, { value, enqueued: job.timestamp, finished: job.finishedOn });
    if (results.size === total) resolveDone();
  });
  worker.on('failed', (job, error) => { failed = `job ${job?.id}: ${error?.message}`; resolveDone(); });
  await worker.waitUntilReady();
  const cpuBefore = process.cpuUsage();
  const redisBefore = cpuUs(redis.pid);
  const started = performance.now();
  let producing = 0;
  for (let i = 0; i < total; i += options.batch) {
    const before = performance.now();
    if (options.batch === 1) {
      await queue.add('t', { n: i });
    } else {
      const jobs = [];
      for (let n = i; n < Math.min(total, i + options.batch); ++n) jobs.push({ name: 't', data: { n } });
      await queue.addBulk(jobs);
    }
    producing += performance.now() - before;
  }
  // As sandhost-bench: a run that has not finished in 10 minutes is a failure, not a wait.
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`only ${results.size} of ${total} jobs completed in 10 minutes`)), 600_000);
  });
  try {
    await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // The sandboxed processors' child processes are alive until the worker closes: their CPU is read now.
  const childrenUs = childrenOf(process.pid).filter((pid) => pid !== redis.pid).reduce((sum, pid) => sum + cpuUs(pid), 0);
  const redisUs = cpuUs(redis.pid) - redisBefore;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  if (failed) throw new Error(`a job failed: ${failed}`);
  const latencies = [];
  for (let n = 0; n < total; ++n) {
    const r = results.get(n);
    if (!r || r.value !== n + 1) throw new Error(`job ${n}: expected ${n + 1}, got ${r ? JSON.stringify(r.value) : 'nothing'}`);
    latencies.push((r.finished - r.enqueued) * 1000);
  }
  latencies.sort((a, b) => a - b);
  return {
    jobs_per_s: Math.round((total / seconds) * 10) / 10,
    enqueue_p50_us: Math.round(percentile(latencies, 50)),
    enqueue_p99_us: Math.round(percentile(latencies, 99)),
    producer_us_per_job: Math.round(((producing * 1000) / total) * 10) / 10,
    // The worker's process and its children (the producer runs in it too), as sandhost-bench
    // counts its own process and children; Redis apart (sandhost-bench's SQLite rows have none).
    cpu_us_per_job: Math.round((cpu.user + cpu.system + childrenUs) / total),
    redis_cpu_us_per_job: Math.round(redisUs / total),
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const redis = await startRedis();
  const runs = [];
  try {
    for (let run = 0; run < options.repeat; ++run) {
      const figures = await measure(redis, options, run);
      runs.push(figures);
      if (!options.json) {
        console.log(`  bullmq-${options.mode}${options.batch > 1 ? `-batch${options.batch}` : ''}`.padEnd(36) +
          `${String(Math.round(figures.jobs_per_s)).padStart(6)} jobs/s   enqueue to result: p50 ${String(figures.enqueue_p50_us).padStart(8)} us` +
          `   p99 ${String(figures.enqueue_p99_us).padStart(8)} us   cpu ${String(figures.cpu_us_per_job).padStart(5)} us/job` +
          ` (+ redis ${figures.redis_cpu_us_per_job})`);
      }
    }
  } finally {
    await redis.stop();
  }
  if (options.json) {
    console.log(JSON.stringify({ row: `bullmq-${options.mode}`, concurrency: options.concurrency, batch: options.batch, runs }));
  }
}

main().catch((e) => {
  console.error(`bench.mjs: ${e.message}`);
  process.exit(1);
});
