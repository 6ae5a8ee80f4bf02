use mirrorlab_model::check::*;
use mirrorlab_model::table::{AsyncResume, CopyMode};
use mirrorlab_model::{Mutant, Transport};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode: CopyMode = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(CopyMode::Sync);
    let transport = if args.get(2).map(String::as_str) == Some("hn") { Transport::HostNetwork } else { Transport::Interconnect };
    let writes: u8 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(2);
    let mutant: Option<Mutant> = args.get(4).filter(|s| *s != "-").map(|s| s.parse().unwrap());
    let faults = args.iter().any(|a| a == "faults");
    let cascade = args.iter().any(|a| a == "cascade");
    let bitmap = args.iter().any(|a| a == "bitmap");
    let qd: u8 = std::env::var("QD").ok().map(|s| s.parse().unwrap()).unwrap_or(1);
    let chunks: u8 = std::env::var("CHUNKS").ok().map(|s| s.parse().unwrap()).unwrap_or(2);
    let aux: u8 = std::env::var("AUX").ok().map(|s| s.parse().unwrap()).unwrap_or(1);
    let cfg = CheckConfig { chunks, aux_writes: aux, queue_depth: qd, mode, transport, writes, mutant, faults, cascade, resume: if bitmap {AsyncResume::Bitmap} else {AsyncResume::Journal}, ..Default::default() };
    let model = CheckModel::new(cfg).unwrap();
    let r = check(model, 2);
    println!("{} : {} unique, {} total, depth {}, {:.2}s, {:.0}/s exhaustive={}", r.config, r.unique_states, r.states, r.max_depth, r.seconds, r.states_per_sec(), r.exhaustive);
    for p in &r.properties { println!("  {:?} {}", p.verdict, p.name); }
    for v in r.violated() {
        let m = CheckModel::new(cfg).unwrap();
        let t0 = std::time::Instant::now();
        let path = m.shortest_counterexample(v).unwrap();
        println!("shortest in {:?}", t0.elapsed());
        print!("{}", m.render(v, &path));
    }
}
