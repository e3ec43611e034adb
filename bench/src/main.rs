//! The benchmark: in one run, on a fresh PostgreSQL database, a full sync of N records, a re-sync of
//! unchanged data, an incremental sync after 1% changes, and the floor (`COPY` of the same rows into an
//! equivalent table with the same indexes); `sync.status` latency under 500 requests/s during the full
//! sync; the server's peak RSS; then the full sync on SQLite. The server runs as its own process (the
//! release binary beside this one), the simulator in this process.

use anyhow::{bail, Context};
use clap::Parser;
use regnakes_sim::server::{spawn as spawn_sim, SimConfig, SimHandle};
use regnakes_sim::AdvanceSpec;
use regnakes_sync::config::Secret;
use regnakes_sync::rpc::auth::{issue_token, Role};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "RegNakes Sync benchmark: sync speed against PostgreSQL's COPY floor")]
struct Args {
    /// Health workers in the simulator.
    #[arg(long, default_value_t = 1_000_000)]
    records: u32,
    #[arg(long, default_value_t = 1000)]
    page_size: u32,
    /// Share of bad records in the generated data.
    #[arg(long, default_value_t = 0.01)]
    bad_share: f64,
    /// sync.status requests per second during the full sync (0: none).
    #[arg(long, default_value_t = 500)]
    status_rps: u32,
    /// PostgreSQL server (a database is created on it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// Skip the SQLite run.
    #[arg(long)]
    no_sqlite: bool,
    /// Only the SQLite run.
    #[arg(long)]
    only_sqlite: bool,
    /// Connection options appended to the database URLs of the server (e.g. `sslmode=disable`).
    #[arg(long, default_value = "")]
    pg_options: String,
    /// Keep the PostgreSQL database afterwards (to inspect plans).
    #[arg(long)]
    keep_db: bool,
    /// Only the server's CPU work per record, in this process on one thread, without the network or a
    /// database (`regnakes_sync::cpu_path`): the first load's and the unchanged re-sync's, `--rounds`
    /// times each. Steadier than the CPU-seconds of a whole sync, which move with PostgreSQL's share.
    #[arg(long)]
    cpu: bool,
    /// Rounds of `--cpu` (the median is printed, then the range).
    #[arg(long, default_value_t = 5)]
    rounds: u32,
}

// The server's allocator, so that `--cpu` measures what the server runs.
regnakes_sync::server_allocator!();

const SECRET: &str = "bench-secret-bench-secret-bench-secret";

struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(database_url: &str, sim: &SimHandle, page_size: u32) -> anyhow::Result<Server> {
        Server::start_on(database_url, &sim.base_url(), sim, page_size)
    }

    /// A server reading RegNakes at `upstream` (the simulator, or a gateway in front of it).
    fn start_on(
        database_url: &str,
        upstream: &str,
        sim: &SimHandle,
        page_size: u32,
    ) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?;
        let bin = exe.parent().context("bench dir")?.join("regnakes-sync");
        if !bin.exists() {
            bail!(
                "{} missing: build with `cargo build --release -p regnakes-sync -p regnakes-bench`",
                bin.display()
            );
        }
        let mut child = Command::new(bin)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("REGNAKES_BASE_URL", upstream)
            .env("REGNAKES_CLIENT_ID", &sim.state.config.client_id)
            .env("REGNAKES_CLIENT_SECRET", &sim.state.config.client_secret)
            .env("REGNAKES_PAGE_SIZE", page_size.to_string())
            .env("RPC_JWT_SECRET", SECRET)
            .env("SYNC_SCHEDULE", "off")
            .env("SYNC_FULL_SCHEDULE", "off")
            .env(
                "NIK_INDEX_KEY",
                regnakes_sync::cpu_path::BENCH_NIK_INDEX_KEY,
            )
            .env(
                "NIK_ENCRYPTION_KEY",
                regnakes_sync::cpu_path::BENCH_NIK_ENCRYPTION_KEY,
            )
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let address = line
            .trim()
            .strip_prefix("regnakes-sync listening on ")
            .context("server address line")?
            .to_string();
        Ok(Server { child, address })
    }

    /// Peak resident set size so far (VmHWM), in MB.
    fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

/// CPU seconds used so far by the server, by every PostgreSQL process, and by this process (the
/// simulator and the load generator): where a run's cores went.
#[derive(Clone, Copy)]
struct Cpu {
    server: f64,
    postgres: f64,
    simulator: f64,
}

impl Cpu {
    fn now(server_pid: u32) -> Cpu {
        let postgres = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| proc_times(&e.path().join("stat"), "postgres"))
            .map(|times| times.with_reaped())
            .sum();
        Cpu {
            server: proc_cpu(format!("/proc/{server_pid}/stat").as_ref(), "").unwrap_or(0.0),
            postgres,
            simulator: proc_cpu("/proc/self/stat".as_ref(), "").unwrap_or(0.0),
        }
    }

    /// The CPU used since `start`, and per million of the `records` the run received (what a national
    /// sync costs each process, whatever N the bench ran).
    fn since(self, start: Cpu, records: f64) -> String {
        let (server, postgres, simulator) = (
            self.server - start.server,
            self.postgres - start.postgres,
            self.simulator - start.simulator,
        );
        // Only a run of some size says what a million cost (an incremental sync's few thousand
        // records are mostly the batch's fixed cost).
        let per_million = |secs: f64| {
            if records >= 10_000.0 {
                format!("{:.1}", secs * 1e6 / records)
            } else {
                "-".into()
            }
        };
        format!(
            "cpu s: server {server:.1}, postgres {postgres:.1}, simulator {simulator:.1}; per million records: server {}, postgres {}",
            per_million(server),
            per_million(postgres)
        )
    }
}

/// utime + stime of a process in seconds, if its command is `comm` (any when empty).
fn proc_cpu(stat: &std::path::Path, comm: &str) -> Option<f64> {
    proc_times(stat, comm).map(|times| times.own)
}

/// A process's CPU seconds: its own, and those of its children that exited and were waited for.
struct Times {
    own: f64,
    reaped_children: f64,
}

impl Times {
    /// What a process and the children it reaped used. For the PostgreSQL processes this keeps the CPU
    /// of a backend that exits between two samples: its parent, the postmaster, takes it over (summing
    /// only the live processes' own CPU, a phase's difference could come out negative).
    fn with_reaped(&self) -> f64 {
        self.own + self.reaped_children
    }
}

/// The CPU times in a `/proc/<pid>/stat`, if its command is `comm` (any when empty).
fn proc_times(stat: &std::path::Path, comm: &str) -> Option<Times> {
    stat_times(&std::fs::read_to_string(stat).ok()?, comm)
}

/// The CPU times in the text of a `/proc/<pid>/stat`, if its command is `comm` (any when empty).
fn stat_times(text: &str, comm: &str) -> Option<Times> {
    let (head, tail) = text.rsplit_once(')')?;
    if !comm.is_empty() && head.split_once('(')?.1 != comm {
        return None;
    }
    // Fields after the command: state is the 3rd field of the line; utime, stime, cutime and cstime the
    // 14th to 17th.
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let ticks = |at: usize| -> Option<f64> { fields.get(at)?.parse::<f64>().ok() };
    Some(Times {
        own: (ticks(11)? + ticks(12)?) / 100.0,
        reaped_children: (ticks(13)? + ticks(14)?) / 100.0,
    })
}

struct Rpc {
    client: awc::Client,
    address: String,
    token: String,
    server_pid: u32,
}

impl Rpc {
    fn new(address: &str, server_pid: u32) -> Rpc {
        Rpc {
            server_pid,
            client: awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .finish(),
            address: address.to_string(),
            token: issue_token(&Secret::new(SECRET), "bench", Role::Admin, 24 * 3600),
        }
    }

    async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let mut response = self
            .client
            .post(format!("{}/jsonrpc", self.address))
            .insert_header(("Authorization", format!("Bearer {}", self.token)))
            .send_json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .await
            .map_err(|e| anyhow::anyhow!("{method}: {e}"))?;
        let body: Value = response.json().limit(64 * 1024 * 1024).await?;
        if let Some(error) = body.get("error") {
            bail!("{method}: {error}");
        }
        Ok(body["result"].clone())
    }

    /// One JSON-RPC batch of `calls` (method, params); fails if any call failed.
    async fn call_batch(&self, calls: &[(&str, Value)]) -> anyhow::Result<Vec<Value>> {
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (method, params))| json!({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
            .collect();
        let mut response = self
            .client
            .post(format!("{}/jsonrpc", self.address))
            .insert_header(("Authorization", format!("Bearer {}", self.token)))
            .send_json(&body)
            .await
            .map_err(|e| anyhow::anyhow!("batch: {e}"))?;
        let answers: Vec<Value> = response.json().limit(64 * 1024 * 1024).await?;
        if let Some(error) = answers.iter().find_map(|a| a.get("error")) {
            bail!("batch: {error}");
        }
        Ok(answers)
    }

    async fn wait_up(&self) -> anyhow::Result<()> {
        for _ in 0..300 {
            if self.call("sync.status", json!({})).await.is_ok() {
                return Ok(());
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("server did not come up")
    }

    /// Runs a sync to its end; returns (batch, wall seconds), the batch with the run's CPU use added.
    async fn sync(&self, params: Value) -> anyhow::Result<(Value, f64)> {
        let started = Instant::now();
        let cpu = Cpu::now(self.server_pid);
        let start = self.call("sync.start", params).await?;
        let id = start["batch"]["id"]
            .as_str()
            .context("batch id")?
            .to_string();
        loop {
            actix_rt::time::sleep(Duration::from_millis(100)).await;
            let batch = self.call("batch.get", json!({"batch_id": id})).await?["batch"].clone();
            if batch["status"] != "running" {
                let secs = started.elapsed().as_secs_f64();
                let mut batch = batch;
                let received = batch["received"].as_f64().unwrap_or(0.0);
                batch["bench_cpu"] = Cpu::now(self.server_pid).since(cpu, received).into();
                return Ok((batch, secs));
            }
        }
    }
}

/// Open-loop load: one `sync.status` every 1/rps seconds, whatever the answers' latency.
fn status_load(address: &str, rps: u32) -> (Rc<RefCell<Vec<f64>>>, Rc<RefCell<bool>>) {
    let latencies = Rc::new(RefCell::new(Vec::new()));
    let stop = Rc::new(RefCell::new(false));
    if rps == 0 {
        return (latencies, stop);
    }
    let rpc = Rc::new(Rpc::new(address, 0));
    let (lat, halt) = (latencies.clone(), stop.clone());
    actix_rt::spawn(async move {
        let period = Duration::from_secs_f64(1.0 / f64::from(rps));
        let t0 = Instant::now();
        let mut i: u32 = 0;
        while !*halt.borrow() {
            let due = t0 + period * i;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                actix_rt::time::sleep(wait).await;
            }
            i += 1;
            let (rpc, lat) = (rpc.clone(), lat.clone());
            actix_rt::spawn(async move {
                let sent = Instant::now();
                if rpc.call("sync.status", json!({})).await.is_ok() {
                    lat.borrow_mut().push(sent.elapsed().as_secs_f64() * 1000.0);
                }
            });
        }
    });
    (latencies, stop)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Latency percentiles of `worker.search` for each query, one after another (ms).
async fn search_latencies(rpc: &Rpc, queries: &[String]) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut latencies = Vec::with_capacity(queries.len());
    let mut found_some = 0;
    for query in queries {
        let sent = Instant::now();
        let found = rpc
            .call("worker.search", json!({"query": query, "limit": 20}))
            .await?;
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        found_some += usize::from(found["total"].as_u64().unwrap_or(0) > 0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok((latencies, found_some))
}

/// Text as a person types it into the search: no control characters, single spaces.
fn typed(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `worker.search` on the synced store: an exact NIK (blind index), an exact STR (unique index), a name
/// (trigram index), 200 queries each of workers the registry holds; and a 50-call batch of name searches.
async fn search_lines(rpc: &Rpc, sim: &SimHandle) -> anyhow::Result<()> {
    let (mut niks, mut strs, mut names) = (Vec::new(), Vec::new(), Vec::new());
    {
        let data = sim.state.data();
        let all = data.window(&regnakes_sim::dataset::WindowKey {
            since_ms: None,
            until_ms: None,
            rumpun: None,
            jenis: None,
        });
        let step = (all.len() / 400).max(1);
        for &pos in all.iter().step_by(step) {
            let record = data.render(pos);
            let (Some(nik), Some(number), Some(name)) = (
                record["nik"].as_str(),
                record["str"]["nomor"].as_str(),
                record["nama"].as_str(),
            ) else {
                continue;
            };
            let nik: String = nik.chars().filter(char::is_ascii_digit).collect();
            if nik.len() == 16 && !name.contains('*') && niks.len() < 200 {
                niks.push(nik);
                strs.push(typed(number));
                // As a person types it: the name without its titles.
                names.push(typed(name.split(',').next().unwrap_or(name)));
            }
        }
    }
    for (what, queries) in [("exact NIK", &niks), ("exact STR", &strs), ("name", &names)] {
        let (lat, found) = search_latencies(rpc, queries).await?;
        println!(
            "  worker.search {what:<10} {} queries ({found} found): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 ≤ {} ms)",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0),
            if what == "name" { 100 } else { 10 }
        );
    }
    let calls: Vec<(&str, Value)> = names
        .iter()
        .take(50)
        .map(|n| ("worker.search", json!({"query": n, "limit": 20})))
        .collect();
    let sent = Instant::now();
    rpc.call_batch(&calls).await?;
    println!(
        "  worker.search, a batch of 50 name searches: {:.2} s (target ≤ 2 s)",
        sent.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A full sync of an empty database, then a re-sync of the same (unchanged) data; both printed.
async fn full_then_unchanged(
    rpc: &Rpc,
    backend: &str,
    records: u32,
) -> anyhow::Result<((Value, f64), (Value, f64))> {
    let full = rpc.sync(json!({"mode": "full"})).await?;
    line(&format!("{backend} full sync"), &full.0, full.1, records);
    let unchanged = rpc.sync(json!({"mode": "full"})).await?;
    line(
        &format!("{backend} re-sync (unchanged)"),
        &unchanged.0,
        unchanged.1,
        records,
    );
    Ok((full, unchanged))
}

/// The unchanged re-sync again, against an upstream that answers `Connection: close` and closes every
/// connection (as some gateways do); returns its time.
async fn unchanged_with_connection_close(
    rpc: &Rpc,
    sim: &SimHandle,
    records: u32,
) -> anyhow::Result<f64> {
    sim.state.set_faults(regnakes_sim::FaultPlan {
        close_connections: true,
        ..regnakes_sim::FaultPlan::default()
    });
    let closing = rpc.sync(json!({"mode": "full"})).await;
    sim.state.set_faults(regnakes_sim::FaultPlan::default());
    let (batch, secs) = closing?;
    line(
        "PostgreSQL re-sync, Connection: close",
        &batch,
        secs,
        records,
    );
    Ok(secs)
}

/// The unchanged re-sync again, through a gateway that answers HTTP/1.0 and closes every connection
/// with no `Connection` header (a second server on the same database, default retry delay); returns its
/// time.
async fn unchanged_through_http10_gateway(
    database_url: &str,
    sim: &SimHandle,
    args: &Args,
) -> anyhow::Result<f64> {
    let gateway = regnakes_sim::gateway::Http10Gateway::start("127.0.0.1:0", &sim.base_url())?;
    let server = Server::start_on(database_url, &gateway.url(), sim, args.page_size)?;
    let rpc = Rpc::new(&server.address, server.child.id());
    rpc.wait_up().await?;
    let (batch, secs) = rpc.sync(json!({"mode": "full"})).await?;
    line(
        "PostgreSQL re-sync, HTTP/1.0 gateway",
        &batch,
        secs,
        args.records,
    );
    Ok(secs)
}

fn line(name: &str, batch: &Value, secs: f64, records: u32) {
    let server_secs = batch["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0;
    println!(
        "{name:<34} {secs:>8.1} s {:>10.0} rec/s   (server {server_secs:.1} s; received {} inserted {} updated {} unchanged {} rejected {}; {})",
        f64::from(records) / secs,
        batch["received"], batch["inserted"], batch["updated"], batch["unchanged"], batch["rejected"], batch["status"].as_str().unwrap_or("?")
    );
    println!("{:<34} {}", "", batch["bench_cpu"].as_str().unwrap_or(""));
}

async fn run(args: Args) -> anyhow::Result<()> {
    println!(
        "machine: {} cores, {}; N = {}, page size {}, bad share {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default(),
        args.records,
        args.page_size,
        args.bad_share
    );
    let t = Instant::now();
    let sim = spawn_sim(SimConfig {
        records: args.records,
        bad_share: args.bad_share,
        seed: 2026,
        ..SimConfig::default()
    })?;
    println!("simulator ready in {:.1} s", t.elapsed().as_secs_f64());

    if args.only_sqlite {
        return sqlite_run(
            &args,
            &sim,
            &format!(
                "regnakes_bench_{}",
                chrono::Utc::now().format("%Y%m%d%H%M%S")
            ),
        )
        .await;
    }
    // PostgreSQL
    let db_name = format!(
        "regnakes_bench_{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    let admin = Database::connect(format!("{}/postgres", args.postgres)).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {db_name}"))
        .await?;
    let pg_url = format!("{}/{db_name}", args.postgres);
    let with_options = |url: &str| {
        if args.pg_options.is_empty() {
            url.to_string()
        } else {
            format!("{url}?{}", args.pg_options)
        }
    };
    let server = Server::start(&with_options(&pg_url), &sim, args.page_size)?;
    let rpc = Rpc::new(&server.address, server.child.id());
    rpc.wait_up().await?;

    let ((full, full_secs), (_, resync_secs)) =
        full_then_unchanged(&rpc, "PostgreSQL", args.records).await?;
    let closing_secs = unchanged_with_connection_close(&rpc, &sim, args.records).await?;
    let http10_secs = unchanged_through_http10_gateway(&with_options(&pg_url), &sim, &args).await?;
    let report = sim.state.advance(&AdvanceSpec {
        changed: args.records / 100,
        ..AdvanceSpec::default()
    });
    let (incr, incr_secs) = rpc.sync(json!({"mode": "incremental"})).await?;
    line(
        &format!("PostgreSQL incremental ({} changed)", report.changed.len()),
        &incr,
        incr_secs,
        report.changed.len() as u32,
    );
    let pg_rss = server.peak_rss_mb();
    println!("worker.search on the {} stored workers:", full["inserted"]);
    search_lines(&rpc, &sim).await?;
    drop(server);

    // The floor: COPY the stored rows into an equivalent table with the same indexes.
    let db = Database::connect(&pg_url).await?;
    let file = format!("/tmp/{db_name}.csv");
    db.execute_unprepared(&format!("COPY health_worker TO '{file}' WITH (FORMAT csv)"))
        .await?;
    db.execute_unprepared("CREATE TABLE floor_copy (LIKE health_worker INCLUDING ALL)")
        .await?;
    let t = Instant::now();
    db.execute_unprepared(&format!("COPY floor_copy FROM '{file}' WITH (FORMAT csv)"))
        .await?;
    let copy_secs = t.elapsed().as_secs_f64();
    let rows = full["inserted"].as_f64().unwrap_or(0.0);
    println!(
        "{:<34} {copy_secs:>8.1} s {:>10.0} rows/s  (COPY of the {rows} stored rows, same indexes)",
        "PostgreSQL COPY floor",
        rows / copy_secs
    );
    let _ = std::fs::remove_file(&file);
    db.close().await.ok();

    // sync.status under load while a full sync runs (a second, fresh database).
    let load_db = format!("{db_name}_load");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {load_db}"))
        .await?;
    let server = Server::start(
        &with_options(&format!("{}/{load_db}", args.postgres)),
        &sim,
        args.page_size,
    )?;
    let rpc_load = Rpc::new(&server.address, server.child.id());
    rpc_load.wait_up().await?;
    let (latencies, stop) = status_load(&server.address, args.status_rps);
    let (loaded, loaded_secs) = rpc_load.sync(json!({"mode": "full"})).await?;
    *stop.borrow_mut() = true;
    line(
        &format!("PostgreSQL full sync, {} status/s", args.status_rps),
        &loaded,
        loaded_secs,
        args.records,
    );
    drop(server);
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {load_db}"))
        .await
        .ok();

    let mut lat = latencies.borrow().clone();
    lat.sort_by(|a, b| a.total_cmp(b));
    println!("\nratios (same run):");
    println!(
        "  full sync / COPY          {:.2}   (target ≤ 1.5)",
        full_secs / copy_secs
    );
    println!(
        "  unchanged re-sync / COPY  {:.2}   (target ≤ 0.5)",
        resync_secs / copy_secs
    );
    println!(
        "  incremental / full sync   {:.3}  (target ≤ 0.05)",
        incr_secs / full_secs
    );
    println!(
        "  Connection: close / keep-alive (unchanged re-sync) {:.2}   (target ≤ 1.5)",
        closing_secs / resync_secs
    );
    println!(
        "  HTTP/1.0 gateway / keep-alive (unchanged re-sync) {:.2}   (target ≤ 1.5)",
        http10_secs / resync_secs
    );
    println!("  server peak RSS           {pg_rss:.0} MB (target ≤ 150 MB)");
    println!(
        "  sync.status under {} req/s: {} answered, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 ≤ 10 ms)",
        args.status_rps, lat.len(), percentile(&lat, 0.5), percentile(&lat, 0.95), percentile(&lat, 0.99), percentile(&lat, 1.0)
    );

    if !args.no_sqlite {
        sqlite_run(&args, &sim, &db_name).await?;
    }
    if args.keep_db {
        println!("kept database {db_name}");
    } else {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name}"))
            .await
            .ok();
    }
    Ok(())
}

async fn sqlite_run(args: &Args, sim: &SimHandle, name: &str) -> anyhow::Result<()> {
    let path = format!("/tmp/{name}.sqlite");
    let server = Server::start(&format!("sqlite://{path}?mode=rwc"), sim, args.page_size)?;
    let rpc = Rpc::new(&server.address, server.child.id());
    rpc.wait_up().await?;
    full_then_unchanged(&rpc, "SQLite", args.records).await?;
    println!("  SQLite server peak RSS    {:.0} MB", server.peak_rss_mb());
    drop(server);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    Ok(())
}

/// `--cpu`: the records as the simulator serves them, in pages, through the server's CPU path.
fn cpu_only(args: &Args) -> anyhow::Result<()> {
    let data = regnakes_sim::Dataset::generate(args.records, 2026, args.bad_share);
    let path = regnakes_sync::cpu_path::CpuPath::of_dataset(
        &data,
        args.page_size as usize,
        chrono::Utc::now(),
    );
    let thread_cpu = || proc_cpu("/proc/thread-self/stat".as_ref(), "").unwrap_or(0.0);
    let per_million = 1e6 / f64::from(args.records.max(1));
    for (name, pass) in [
        (
            "first load",
            regnakes_sync::cpu_path::CpuPath::first_load as fn(&_) -> _,
        ),
        (
            "unchanged re-sync",
            regnakes_sync::cpu_path::CpuPath::unchanged,
        ),
    ] {
        let mut seconds = Vec::new();
        let mut decided = None;
        for _ in 0..args.rounds.max(1) {
            let cpu = thread_cpu();
            let this = pass(&path);
            let elapsed = thread_cpu() - cpu;
            if decided.is_some_and(|d| d != this) {
                bail!("two rounds of the {name} decided differently");
            }
            decided = Some(this);
            seconds.push(elapsed * per_million);
        }
        seconds.sort_by(f64::total_cmp);
        println!(
            "cpu path, {name:<18} {:6.2} CPU-s per million records (min {:.2}, max {:.2}; {} rounds) {:?}",
            seconds[seconds.len() / 2],
            seconds[0],
            seconds[seconds.len() - 1],
            seconds.len(),
            decided.unwrap_or_default(),
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    if args.cpu {
        return cpu_only(&args);
    }
    actix_web::rt::System::new().block_on(run(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_processs_cpu_counts_the_children_it_reaped_apart() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        // cutime cstime ...
        let postgres =
            "42 (postgres) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 700 100 20 0 1 0 5 0\n";
        let times = stat_times(postgres, "postgres").unwrap();
        assert_eq!((times.own, times.with_reaped()), (3.0, 11.0));
        assert!(stat_times(postgres, "regnakes-sync").is_none());
        // A command may hold spaces and parentheses.
        let odd = "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 5 0\n";
        assert_eq!(stat_times(odd, "").map(|times| times.own), Some(0.15));
        assert_eq!(
            stat_times(odd, "a (b) c").map(|times| times.own),
            Some(0.15)
        );
    }
}
