//! Minimum-cost assignment with a gate: pairs whose cost is above the gate are never matched. The
//! solver is `pathfinding`'s Kuhn–Munkres (Hungarian) on integer weights.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// The result of an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// `(row, col)` pairs, each row and column at most once.
    pub matches: Vec<(usize, usize)>,
    /// Rows left without a column.
    pub unmatched_rows: Vec<usize>,
    /// Columns left without a row.
    pub unmatched_cols: Vec<usize>,
}

/// Costs are solved as integers in millionths.
const SCALE: f64 = 1e6;

/// Assigns rows to columns minimising the total cost of `cost[r][c]` (row-major, `rows × cols`),
/// only with pairs whose cost is `<= gate`. Non-finite costs are never matched.
pub fn assign(cost: &[f32], rows: usize, cols: usize, gate: f32) -> Assignment {
    debug_assert_eq!(cost.len(), rows * cols);
    let mut out = Assignment::default();
    if rows > 0 && cols > 0 && cost.len() == rows * cols {
        let allowed = |v: f32| v.is_finite() && v <= gate;
        // Gated pairs cost more than any complete assignment of allowed pairs, so the solver
        // prefers leaving them out; they are dropped after solving.
        let n = rows.max(cols) as f64 + 1.0;
        let forbidden = -((f64::from(gate.max(0.0)) * SCALE).ceil() * n + 1.0) as i64;
        let weight = |v: f32| {
            if allowed(v) {
                -(f64::from(v.max(0.0)) * SCALE).round() as i64
            } else {
                forbidden
            }
        };
        // Kuhn–Munkres maximises, with no more rows than columns: transpose a tall matrix.
        let transposed = rows > cols;
        let (n_rows, n_cols) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let weights = Matrix::from_fn(n_rows, n_cols, |(i, j)| {
            let (r, c) = if transposed { (j, i) } else { (i, j) };
            weight(cost[r * cols + c])
        });
        let (_, col_of_row) = kuhn_munkres(&weights);
        for (i, j) in col_of_row.into_iter().enumerate() {
            let (r, c) = if transposed { (j, i) } else { (i, j) };
            if allowed(cost[r * cols + c]) {
                out.matches.push((r, c));
            }
        }
        out.matches.sort_unstable();
    }
    let mut row_used = vec![false; rows];
    let mut col_used = vec![false; cols];
    for &(r, c) in &out.matches {
        row_used[r] = true;
        col_used[c] = true;
    }
    out.unmatched_rows = (0..rows).filter(|&r| !row_used[r]).collect();
    out.unmatched_cols = (0..cols).filter(|&c| !col_used[c]).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_cheapest_total_not_the_greedy_pairs() {
        // Greedy would take (0,0)=1 and then (1,1)=10; the optimum is (0,1)+(1,0) = 2 + 3.
        let cost = [1.0, 2.0, 3.0, 10.0];
        let a = assign(&cost, 2, 2, 100.0);
        assert_eq!(a.matches, vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn gated_pairs_stay_unmatched() {
        let cost = [0.1, 0.95, 0.9, 0.2, 0.99, 0.99];
        // 3 rows × 2 cols; row 2 fits nothing under the gate.
        let a = assign(&cost, 3, 2, 0.8);
        assert_eq!(a.matches, vec![(0, 0), (1, 1)]);
        assert_eq!(a.unmatched_rows, vec![2]);
        assert!(a.unmatched_cols.is_empty());
    }

    #[test]
    fn a_forbidden_pair_is_never_forced_even_when_it_completes_the_assignment() {
        let cost = [0.5, f32::INFINITY, f32::NAN, 0.9];
        let a = assign(&cost, 2, 2, 0.8);
        assert_eq!(a.matches, vec![(0, 0)]);
        assert_eq!(a.unmatched_rows, vec![1]);
        assert_eq!(a.unmatched_cols, vec![1]);
    }

    #[test]
    fn wide_and_empty_matrices() {
        let a = assign(&[0.3, 0.1, 0.2], 1, 3, 1.0);
        assert_eq!(a.matches, vec![(0, 1)]);
        assert_eq!(a.unmatched_cols, vec![0, 2]);
        let e = assign(&[], 0, 4, 1.0);
        assert_eq!(e.unmatched_cols, vec![0, 1, 2, 3]);
    }

    #[test]
    fn agrees_with_brute_force_on_small_matrices() {
        // A fixed pseudo-random sequence; every 3×3 permutation checked.
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) as f32 / (1u32 << 24) as f32
        };
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for _ in 0..200 {
            let cost: Vec<f32> = (0..9).map(|_| next()).collect();
            let best = perms
                .iter()
                .map(|p| (0..3).map(|r| cost[r * 3 + p[r]]).sum::<f32>())
                .fold(f32::INFINITY, f32::min);
            let a = assign(&cost, 3, 3, 10.0);
            let got: f32 = a.matches.iter().map(|&(r, c)| cost[r * 3 + c]).sum();
            assert!((got - best).abs() < 1e-5, "{got} vs {best}");
        }
    }
}
