//! The inference plan: how many lanes (inference threads, each with its own session) every model
//! gets, and how many intra-op threads each lane's session uses, so that lanes × threads fit the
//! box's cores. Pure: the core count and the cameras per model come in, the plan goes out.
//!
//! Why lanes rather than threads inside one inference: measured on a 2-core box, two 1-thread
//! sessions running side by side on different frames reach 34–38 fps together with CenterNet,
//! steadily, while one 2-thread session reaches 18–33 fps and swings with the machine's load.
//! Independent frames scale; the operators inside one inference scale poorly. So the automatic plan
//! gives every core a lane with one thread, shared among the models by their number of cameras.

use std::fmt;

/// The most lanes the automatic plan gives one model.
pub const MAX_AUTO_LANES: usize = 8;

/// What the config asks for (`[runtime.inference]`); 0 means "choose".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requested {
    /// Lanes per model.
    pub lanes: usize,
    /// Intra-op threads per lane.
    pub intra_threads: usize,
}

/// One model's share of the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPlan {
    /// Inference lanes: threads that each take the next ready frame of any of the model's cameras.
    pub lanes: usize,
    /// Intra-op threads in each lane's session.
    pub intra_threads: usize,
}

impl ModelPlan {
    /// The threads the model's inference uses in all.
    pub fn threads(&self) -> usize {
        self.lanes * self.intra_threads
    }
}

/// The plan for every model, in the order the models were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The box's cores the plan was made for.
    pub cores: usize,
    /// Each model's lanes and threads.
    pub models: Vec<(String, ModelPlan)>,
    /// Whether the plan was chosen automatically (nothing requested).
    pub automatic: bool,
}

impl Plan {
    /// The plan of `model`.
    pub fn of(&self, model: &str) -> Option<ModelPlan> {
        self.models
            .iter()
            .find(|(m, _)| m == model)
            .map(|(_, p)| *p)
    }

    /// Inference threads in all.
    pub fn threads(&self) -> usize {
        self.models.iter().map(|(_, p)| p.threads()).sum()
    }

    /// Whether there are more inference threads than cores (more models than cores, automatically).
    pub fn oversubscribed(&self) -> bool {
        self.threads() > self.cores
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .models
            .iter()
            .map(|(m, p)| format!("{m}: {} lane(s) × {} thread(s)", p.lanes, p.intra_threads))
            .collect();
        write!(
            f,
            "{} on {} core(s), {}",
            parts.join(", "),
            self.cores,
            if self.automatic {
                "chosen automatically"
            } else {
                "as configured"
            }
        )
    }
}

/// Why a requested plan cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The requested lanes × threads need more cores than the box has.
    #[error(
        "runtime.inference: {models} model(s) × lanes {lanes} × intra_threads {intra} = {threads} inference thread(s) do not fit this box's {cores} core(s); lower lanes or intra_threads, or leave both at 0 for the automatic plan ({auto})"
    )]
    DoesNotFit {
        /// Models in use.
        models: usize,
        /// Lanes per model (as resolved).
        lanes: usize,
        /// Threads per lane (as resolved).
        intra: usize,
        /// Threads in all.
        threads: usize,
        /// The box's cores.
        cores: usize,
        /// What the automatic plan would be.
        auto: String,
    },
}

/// Plans `models` (each with its number of cameras) on `cores` cores.
///
/// Automatic (nothing requested): the cores are shared among the models in proportion to their
/// cameras, at least one lane each and at most [`MAX_AUTO_LANES`], one thread per lane. A model
/// with one camera still gets more than one lane: frames of one camera are analysed side by side
/// and handed to its tracker in order. With more models than cores each gets one lane and the plan
/// is oversubscribed (see [`Plan::oversubscribed`]).
///
/// Requested: `lanes` applies to each model, `intra_threads` to each lane; the one left at 0 is
/// chosen to fill the cores. Asking for more threads than cores is an error.
pub fn plan(cores: usize, models: &[(&str, usize)], req: Requested) -> Result<Plan, PlanError> {
    let cores = cores.max(1);
    let auto = auto_plan(cores, models);
    if req == Requested::default() {
        return Ok(auto);
    }
    let n = models.len().max(1);
    let lanes = if req.lanes > 0 {
        req.lanes
    } else {
        (cores / (n * req.intra_threads.max(1))).max(1)
    };
    let intra = if req.intra_threads > 0 {
        req.intra_threads
    } else {
        (cores / (n * lanes)).max(1)
    };
    let threads = n * lanes * intra;
    if threads > cores {
        return Err(PlanError::DoesNotFit {
            models: n,
            lanes,
            intra,
            threads,
            cores,
            auto: auto.to_string(),
        });
    }
    Ok(Plan {
        cores,
        models: models
            .iter()
            .map(|(m, _)| {
                (
                    (*m).to_string(),
                    ModelPlan {
                        lanes,
                        intra_threads: intra,
                    },
                )
            })
            .collect(),
        automatic: false,
    })
}

fn auto_plan(cores: usize, models: &[(&str, usize)]) -> Plan {
    let cameras: usize = models
        .iter()
        .map(|(_, c)| (*c).max(1))
        .sum::<usize>()
        .max(1);
    let plans = models
        .iter()
        .map(|(m, c)| {
            let share = cores * (*c).max(1) / cameras;
            let lanes = share.clamp(1, MAX_AUTO_LANES);
            (
                (*m).to_string(),
                ModelPlan {
                    lanes,
                    intra_threads: 1,
                },
            )
        })
        .collect();
    Plan {
        cores,
        models: plans,
        automatic: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(p: &Plan) -> Vec<usize> {
        p.models.iter().map(|(_, m)| m.lanes).collect()
    }

    #[test]
    fn every_core_gets_a_one_thread_lane() {
        let p = plan(2, &[("centernet", 4)], Requested::default()).expect("fits");
        assert_eq!(
            p.of("centernet"),
            Some(ModelPlan {
                lanes: 2,
                intra_threads: 1
            })
        );
        assert!(p.automatic && !p.oversubscribed());
        // One camera still fills the box: its frames are analysed side by side.
        let one = plan(4, &[("centernet", 1)], Requested::default()).expect("fits");
        assert_eq!(lanes(&one), vec![4]);
        let big = plan(64, &[("centernet", 1)], Requested::default()).expect("fits");
        assert_eq!(lanes(&big), vec![MAX_AUTO_LANES]);
    }

    #[test]
    fn models_share_the_cores_by_their_cameras() {
        let p = plan(8, &[("centernet", 3), ("nanodet", 1)], Requested::default()).expect("fits");
        assert_eq!(lanes(&p), vec![6, 2]);
        assert_eq!(p.threads(), 8);
        // More models than cores: one lane each, and the plan says it is oversubscribed.
        let p = plan(2, &[("a", 1), ("b", 1), ("c", 1)], Requested::default()).expect("runs");
        assert_eq!(lanes(&p), vec![1, 1, 1]);
        assert!(p.oversubscribed());
    }

    #[test]
    fn a_requested_plan_fills_what_is_left_and_must_fit() {
        let p = plan(
            4,
            &[("centernet", 2)],
            Requested {
                lanes: 0,
                intra_threads: 2,
            },
        )
        .expect("fits");
        assert_eq!(
            p.of("centernet"),
            Some(ModelPlan {
                lanes: 2,
                intra_threads: 2
            })
        );
        assert!(!p.automatic);
        let p = plan(
            4,
            &[("centernet", 2)],
            Requested {
                lanes: 1,
                intra_threads: 0,
            },
        )
        .expect("fits");
        assert_eq!(p.of("centernet").map(|m| m.intra_threads), Some(4));
        let err = plan(
            2,
            &[("centernet", 4), ("nanodet", 1)],
            Requested {
                lanes: 2,
                intra_threads: 1,
            },
        )
        .expect_err("4 threads on 2 cores");
        let text = err.to_string();
        assert!(
            text.starts_with("runtime.inference: 2 model(s) × lanes 2 × intra_threads 1 = 4 inference thread(s) do not fit this box's 2 core(s)"),
            "{text}"
        );
        assert!(text.contains("automatic plan (centernet: 1 lane(s) × 1 thread(s), nanodet: 1 lane(s) × 1 thread(s) on 2 core(s)"), "{text}");
    }

    #[test]
    fn the_plan_reads_as_a_sentence() {
        let p = plan(2, &[("centernet", 1)], Requested::default()).expect("fits");
        assert_eq!(
            p.to_string(),
            "centernet: 2 lane(s) × 1 thread(s) on 2 core(s), chosen automatically"
        );
    }
}
