//! `regnakes-sim`: serves the simulated RegNakes API until stopped.

use clap::Parser;
use regnakes_sim::server::{spawn, SimConfig};

#[derive(Parser)]
#[command(
    name = "regnakes-sim",
    about = "RegNakes API simulator: deterministic generated data and fault injection"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SIM_LISTEN_ADDR", default_value = "127.0.0.1:8090")]
    listen: String,
    /// Number of generated health workers.
    #[arg(long, default_value_t = 5000)]
    records: u32,
    /// Seed of the generated data (same seed, same data).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Share of bad records (0..1), spread over every kind of bad record.
    #[arg(long, default_value_t = 0.05)]
    bad_share: f64,
    #[arg(long, env = "SIM_CLIENT_ID", default_value = "sdmk-etl")]
    client_id: String,
    #[arg(long, env = "SIM_CLIENT_SECRET", default_value = "sim-secret")]
    client_secret: String,
    /// Records generated in a row with one `updated_at`.
    #[arg(long, default_value_t = regnakes_sim::dataset::TIE_GROUP)]
    tie_group: u64,
    /// Also serve the API through a gateway on this address that answers HTTP/1.0 and closes every
    /// connection, with no `Connection` header (as some gateways in front of RegNakes do).
    #[arg(long)]
    http10_gateway: Option<String>,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let config = SimConfig {
        records: args.records,
        seed: args.seed,
        bad_share: args.bad_share.clamp(0.0, 1.0),
        client_id: args.client_id,
        client_secret: args.client_secret,
        listen_addr: args.listen,
        tie_group: args.tie_group,
    };
    let sim = spawn(config)?;
    eprintln!(
        "regnakes-sim listening on {} ({} records)",
        sim.base_url(),
        sim.state.config.records
    );
    let _gateway = match &args.http10_gateway {
        Some(addr) => {
            let gateway = regnakes_sim::gateway::Http10Gateway::start(addr, &sim.base_url())?;
            eprintln!("HTTP/1.0 gateway on {}", gateway.url());
            Some(gateway)
        }
        None => None,
    };
    eprintln!("control: POST /_sim/advance {{\"changed\":10,\"renewed\":2,\"revoked\":1,\"new_workers\":5}} · PUT /_sim/faults · GET /_sim/requests");
    tokio::signal::ctrl_c().await?;
    sim.server.stop(true).await;
    Ok(())
}
