//! A synthetic drift scenario for the engine alone (no model): users whose
//! taste the frozen model gets wrong by a per-user, per-region logit offset.
//! Each user's session memory sees the stream prequentially (score, then
//! record); the example prints logloss and AUC of the frozen base and of both
//! estimators. The MovieLens replay (`replay`) is the real evaluation; this
//! shows the loop's mechanics in a second.
//!
//! `cargo run --release --example drift -- [users] [events-per-user]`

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use reloop_core::{Estimator, Memory, MemoryConfig, ModelId, PaperParams, SketchConfig};

const DIM: usize = 16;
const REGIONS: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let users: usize = args.next().map_or(Ok(300), |a| a.parse())?;
    let events: usize = args.next().map_or(Ok(60), |a| a.parse())?;
    let mut rng = ChaCha8Rng::seed_from_u64(2023);
    let centres: Vec<Vec<f32>> =
        (0..REGIONS).map(|_| (0..DIM).map(|_| StandardNormal.sample(&mut rng)).collect()).collect();
    let estimators = [
        ("frozen base", None),
        ("paper (L4 K4, lambda 0.5)", Some(Estimator::Paper(PaperParams::default()))),
        ("residual (default)", Some(Estimator::default())),
    ];
    let mut scored: Vec<Vec<(f32, bool)>> = vec![Vec::new(); estimators.len()];
    let model_id = ModelId::digest(&[b"synthetic"]);
    for _ in 0..users {
        // This user likes some regions more, some less, than the model thinks.
        let offset: Vec<f32> = (0..REGIONS).map(|_| 1.5 * normal(&mut rng)).collect();
        let mut sessions: Vec<Option<Memory>> = estimators
            .iter()
            .map(|(_, e)| {
                e.map(|estimator| {
                    let sketch = SketchConfig { dim: DIM as u32, half_life: Some(100.0), ..SketchConfig::default() };
                    Memory::new(MemoryConfig { sketch, estimator }, model_id, None)
                })
                .transpose()
            })
            .collect::<Result<_, _>>()?;
        for _ in 0..events {
            let region = rng.next_u32() as usize % REGIONS;
            let h: Vec<f32> = centres[region].iter().map(|c| c + 0.3 * normal(&mut rng)).collect();
            let base_logit = 0.8 * normal(&mut rng);
            let y_base = sigmoid(base_logit);
            let clicked = (rng.next_u32() as f32 / u32::MAX as f32) < sigmoid(base_logit + offset[region]);
            for (slot, session) in sessions.iter_mut().enumerate() {
                let score = match session {
                    Some(s) => {
                        let p = s.score_one(y_base, &h)?;
                        s.record(y_base, &h, clicked)?;
                        p.score
                    }
                    None => y_base,
                };
                scored[slot].push((score, clicked));
            }
        }
    }
    println!("synthetic drift: {users} users x {events} events, dim {DIM}, per-user memories\n");
    println!("| scorer | logloss | AUC |\n|---|---:|---:|");
    for ((name, _), s) in estimators.iter().zip(&scored) {
        println!("| {name} | {:.4} | {:.4} |", logloss(s), auc(s));
    }
    Ok(())
}

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let z: f64 = StandardNormal.sample(rng);
    z as f32
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn logloss(s: &[(f32, bool)]) -> f64 {
    let sum: f64 = s
        .iter()
        .map(|&(p, y)| {
            let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    sum / s.len() as f64
}

/// Rank-sum AUC with ties counted half.
fn auc(s: &[(f32, bool)]) -> f64 {
    let mut v = s.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut pos, mut i) = (0f64, 0f64, 0usize);
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        for item in &v[i..j] {
            if item.1 {
                rank_sum += mid;
                pos += 1.0;
            }
        }
        i = j;
    }
    let neg = v.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}
