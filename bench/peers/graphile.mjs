// graphile-worker throughput: N pre-enqueued no-op jobs drained by one runner in graphile-worker's
// fastest mode (batched fetch via localQueue, batched completion via completeJobBatchDelay).
//
//   node graphile.mjs --count 30000 --concurrency 100 --database postgres://postgres@127.0.0.1:5432/db
//
// Prints exactly one result line on stdout:
//   graphile-worker: N=<N> concurrency=<C> jobs/s=<rate> seconds=<secs>
// Diagnostics go to stderr. Exits non-zero on any error or after the time limit.

// graphile-worker reads NO_LOG_SUCCESS when its modules load, so set it before importing them.
// Without it the worker logs one info line per completed job, which is not the fastest mode.
process.env.NO_LOG_SUCCESS = "1";
const { run, runMigrations, makeWorkerUtils, Logger } = await import("graphile-worker");

function parseArgs(argv) {
  const opts = {
    count: 30000,
    concurrency: 10,
    database: process.env.DATABASE_URL,
    timeoutSeconds: 600,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const val = argv[i + 1];
    if (val === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case "--count":
        opts.count = Number.parseInt(val, 10);
        break;
      case "--concurrency":
        opts.concurrency = Number.parseInt(val, 10);
        break;
      case "--database":
        opts.database = val;
        break;
      case "--timeout":
        opts.timeoutSeconds = Number.parseInt(val, 10);
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error("--count must be >= 1");
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
    throw new Error("--concurrency must be >= 1");
  if (!opts.database) throw new Error("--database (or DATABASE_URL) is required");
  return opts;
}

const envInt = (name, dflt) => {
  const v = process.env[name];
  return v === undefined || v === "" ? dflt : Number.parseInt(v, 10);
};

const opts = parseArgs(process.argv.slice(2));
const N = opts.count;
const C = opts.concurrency;

// Fastest-mode settings (overridable for experiments; run.sh uses the defaults).
const LOCAL_QUEUE_SIZE = envInt("GW_LOCAL_QUEUE_SIZE", 500);
const COMPLETE_BATCH_DELAY_MS = envInt("GW_COMPLETE_JOB_BATCH_DELAY", 0);
const FAIL_BATCH_DELAY_MS = envInt("GW_FAIL_JOB_BATCH_DELAY", 0);
const POLL_INTERVAL_MS = envInt("GW_POLL_INTERVAL", 10);
// The no-op task never touches the database and fetch/complete are batched, so the pool only
// serves the local queue, the completion batcher and the run loop; 10 (graphile-worker's
// default) is plenty. Capped well under PostgreSQL's default max_connections=100.
const MAX_POOL_SIZE = envInt("GW_MAX_POOL_SIZE", 10);
const ENQUEUE_BATCH = 10000;
const TASK = "bench_noop";

// Errors and warnings only: no per-job or per-worker chatter on the hot path.
const logger = new Logger((scope) => (level, message) => {
  if (level === "error" || level === "warning") {
    console.error(`[graphile-worker ${level}] ${scope.label ?? ""} ${message}`);
  }
});

const deadline = Date.now() + opts.timeoutSeconds * 1000;
const killTimer = setTimeout(() => {
  console.error(
    `graphile.mjs: timed out after ${opts.timeoutSeconds} s (N=${N}, concurrency=${C}); aborting`,
  );
  process.exit(3);
}, opts.timeoutSeconds * 1000);
killTimer.unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const shared = { connectionString: opts.database, logger };
  await runMigrations({ ...shared });

  const utils = await makeWorkerUtils({ ...shared });
  let runner;
  try {
    // Bulk-enqueue all N jobs before timing, with the batch API (graphile_worker.add_jobs).
    const e0 = performance.now();
    for (let start = 0; start < N; start += ENQUEUE_BATCH) {
      const specs = [];
      for (let i = start; i < Math.min(N, start + ENQUEUE_BATCH); i++) {
        specs.push({ identifier: TASK, payload: { i } });
      }
      await utils.addJobs(specs);
    }
    const queued = await countJobs(utils);
    if (queued !== N) throw new Error(`expected ${N} queued jobs, found ${queued}`);
    console.error(
      `graphile.mjs: enqueued ${N} jobs in ${((performance.now() - e0) / 1000).toFixed(2)} s`,
    );

    let done = 0;
    let allRan;
    const allRanPromise = new Promise((resolve) => {
      allRan = resolve;
    });
    const taskList = {
      [TASK]: async () => {
        done += 1;
        if (done === N) allRan();
      },
    };

    const t0 = performance.now();
    runner = await run({
      noHandleSignals: true,
      taskList,
      logger,
      preset: {
        worker: {
          connectionString: opts.database,
          concurrentJobs: C,
          maxPoolSize: MAX_POOL_SIZE,
          pollInterval: POLL_INTERVAL_MS,
          localQueue: { size: LOCAL_QUEUE_SIZE },
          completeJobBatchDelay: COMPLETE_BATCH_DELAY_MS,
          failJobBatchDelay: FAIL_BATCH_DELAY_MS,
          // No crontab or task directory: everything comes from taskList.
          crontabFile: "/nonexistent/graphile-bench-crontab",
          taskDirectory: "/nonexistent/graphile-bench-tasks",
        },
      },
    });
    // A runner crash (rejected promise) must fail the benchmark rather than hang it.
    const runnerFailed = runner.promise.then(
      () => {
        throw new Error("runner stopped before all jobs completed");
      },
      (err) => {
        throw err;
      },
    );
    await Promise.race([allRanPromise, runnerFailed]);
    // Every task has run; wait until the batched completions are flushed (jobs deleted).
    for (;;) {
      const left = await countJobs(utils);
      if (left === 0) break;
      if (Date.now() > deadline) throw new Error(`${left} jobs still in the table at deadline`);
      await sleep(2);
    }
    const secs = (performance.now() - t0) / 1000;
    runnerFailed.catch(() => {});
    await runner.stop();
    runner = undefined;
    if (done !== N) throw new Error(`task ran ${done} times, expected ${N}`);
    console.log(
      `graphile-worker: N=${N} concurrency=${C} jobs/s=${(N / secs).toFixed(0)} seconds=${secs.toFixed(3)}`,
    );
  } finally {
    if (runner) await runner.stop().catch(() => {});
    await utils.release();
  }
}

async function countJobs(utils) {
  const { rows } = await utils.withPgClient((client) =>
    client.query("select count(*)::int as n from graphile_worker._private_jobs"),
  );
  return rows[0].n;
}

try {
  await main();
  clearTimeout(killTimer);
  process.exit(0);
} catch (err) {
  console.error(`graphile.mjs: FAILED: ${err?.stack ?? err}`);
  process.exit(1);
}
