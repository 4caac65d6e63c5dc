//! Minimum-cost assignment (the Hungarian method, shortest augmenting paths with potentials), with a
//! gate: pairs whose cost is above the gate are never matched.

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

/// Assigns rows to columns minimising the total cost of `cost[r][c]` (row-major, `rows × cols`),
/// only with pairs whose cost is `<= gate`. Non-finite costs are never matched.
pub fn assign(cost: &[f32], rows: usize, cols: usize, gate: f32) -> Assignment {
    debug_assert_eq!(cost.len(), rows * cols);
    if rows == 0 || cols == 0 {
        return Assignment {
            matches: Vec::new(),
            unmatched_rows: (0..rows).collect(),
            unmatched_cols: (0..cols).collect(),
        };
    }
    // Gated pairs cost more than any complete assignment of allowed pairs, so the solver prefers
    // leaving them out; they are dropped after solving.
    let forbidden = f64::from(gate.max(0.0)) * (rows.max(cols) as f64 + 1.0) + 1.0;
    let at = |r: usize, c: usize| {
        let v = cost[r * cols + c];
        if v.is_finite() && v <= gate {
            f64::from(v)
        } else {
            forbidden
        }
    };
    // The solver wants rows <= cols: transpose if needed.
    let transposed = rows > cols;
    let (n, m) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let c = |i: usize, j: usize| if transposed { at(j, i) } else { at(i, j) };
    let row_of_col = solve(n, m, c);
    let mut out = Assignment::default();
    let mut row_used = vec![false; rows];
    let mut col_used = vec![false; cols];
    for (j, i) in row_of_col.iter().enumerate() {
        let Some(i) = *i else { continue };
        let (r, cc) = if transposed { (j, i) } else { (i, j) };
        if at(r, cc) < forbidden {
            out.matches.push((r, cc));
            row_used[r] = true;
            col_used[cc] = true;
        }
    }
    out.matches.sort_unstable();
    out.unmatched_rows = (0..rows).filter(|&r| !row_used[r]).collect();
    out.unmatched_cols = (0..cols).filter(|&c| !col_used[c]).collect();
    out
}

/// Square-or-wide Hungarian (n rows ≤ m cols); returns for each column the row assigned to it.
fn solve(n: usize, m: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<Option<usize>> {
    // 1-based potentials and matching, as in the classic formulation.
    let mut u = vec![0f64; n + 1];
    let mut v = vec![0f64; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                if cur < minv[j] {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    (1..=m).map(|j| (p[j] != 0).then(|| p[j] - 1)).collect()
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
