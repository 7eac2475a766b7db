//! What lies between the singer and the microphone: the room and the background noise.

use super::Rng;

/// A room: an 8-line feedback delay network whose loop gains give the RT60, mildly
/// darker as it decays, mixed to a direct-to-reverberant ratio of `drr_db`.
pub fn room(x: &[f32], rate: u32, rt60: f64, drr_db: f64, r: &mut Rng) -> Vec<f32> {
    let fs = f64::from(rate);
    let size = r.range(0.8, 1.3);
    let lens: Vec<usize> = [29.7, 37.1, 41.1, 43.7, 53.0, 59.3, 67.1, 73.9]
        .iter()
        .map(|ms| ((ms * size / 1000.0 * fs) as usize).max(1))
        .collect();
    let wet = |input: &[f64], len: usize| -> Vec<f64> {
        let mut lines: Vec<Vec<f64>> = lens.iter().map(|&l| vec![0.0; l]).collect();
        let gains: Vec<f64> = lens
            .iter()
            .map(|&l| 10f64.powf(-3.0 * l as f64 / (rt60 * fs)))
            .collect();
        let mut lp = [0.0f64; 8];
        let mut pos = [0usize; 8];
        let mut out = vec![0.0f64; len];
        let mut o = [0.0f64; 8];
        for (i, y) in out.iter_mut().enumerate() {
            let u = input.get(i).copied().unwrap_or(0.0);
            for j in 0..8 {
                let v = lines[j][pos[j]] * gains[j];
                lp[j] = 0.7 * v + 0.3 * lp[j];
                o[j] = lp[j];
            }
            *y = o.iter().sum::<f64>();
            // Hadamard mixing, normalised.
            let mut h = o;
            let mut w = 1;
            while w < 8 {
                for a in (0..8).step_by(2 * w) {
                    for b in a..a + w {
                        let (p, q) = (h[b], h[b + w]);
                        h[b] = p + q;
                        h[b + w] = p - q;
                    }
                }
                w *= 2;
            }
            for j in 0..8 {
                lines[j][pos[j]] = h[j] / 8f64.sqrt() + u;
                pos[j] = (pos[j] + 1) % lens[j];
            }
        }
        out
    };
    let ir_len = (rt60 * fs * 1.5) as usize;
    let mut imp = vec![0.0f64; 1];
    imp[0] = 1.0;
    let ir = wet(&imp, ir_len);
    let e_ir: f64 = ir.iter().map(|v| v * v).sum();
    let g = (10f64.powf(-drr_db / 10.0) / e_ir.max(1e-12)).sqrt();
    let input: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let y = wet(&input, x.len());
    x.iter()
        .zip(&y)
        .map(|(&d, &w)| (f64::from(d) + g * w) as f32)
        .collect()
}

/// White or pink (Paul Kellet's filter) noise of the given RMS.
pub fn add_noise(x: &mut [f32], level: f64, pink: bool, r: &mut Rng) {
    let mut b = [0.0f64; 7];
    let mut buf = Vec::with_capacity(x.len());
    for _ in 0..x.len() {
        let w = r.normal();
        let v = if pink {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let s = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            s
        } else {
            w
        };
        buf.push(v);
    }
    let rms = (buf.iter().map(|v| v * v).sum::<f64>() / buf.len().max(1) as f64).sqrt();
    let g = if rms > 0.0 { level / rms } else { 0.0 };
    for (s, v) in x.iter_mut().zip(&buf) {
        *s += (v * g) as f32;
    }
}
