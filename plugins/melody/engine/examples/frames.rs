//! Prints the frame-level analysis of one WAV between two times (for error analysis):
//! `cargo run --release -p kino-melody-engine-engine --example frames -- FILE.wav [FROM_S TO_S]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: frames FILE.wav [FROM_S TO_S]");
        std::process::exit(2);
    };
    let from: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let to: f64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::INFINITY);
    let audio = kino_melody_engine::decode_wav(&std::fs::read(path)?, 3600.0)?;
    let dips = kino_melody_engine::debug_coherent_dips(&audio);
    let late = kino_melody_engine::debug_late(&audio);
    for (i, (t, e, c, m)) in kino_melody_engine::debug_frames(&audio)
        .into_iter()
        .enumerate()
    {
        if t >= from && t <= to {
            let (f, r) = dips.get(i).copied().unwrap_or((0.0, 0.0));
            let (d, l) = late.get(i).copied().unwrap_or((0.0, 0.0));
            println!("{t:7.3} {e:7.1} {c:5.2} {m:6.2} {f:5.1} {r:5.1} {d:6.1} {l:6.1}");
        }
    }
    Ok(())
}
