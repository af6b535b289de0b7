//! From the network's output to TuSimple lanes: per-lane probability maps and existence
//! probabilities in, lanes sampled on the benchmark's rows out.
//!
//! As in the reference implementation: a lane is kept when its existence probability is over
//! 0.5; its probability map is blurred with a 9x9 box (borders replicated); on each of 56 rows,
//! y = 710 - 10 i in the 1280x720 frame, the arg-max column is taken where its probability is
//! over 0.3 and scaled back to frame coordinates; lanes with fewer than 2 points are dropped.
//! The softmax over classes is the caller's: this module sees probabilities only, as plain
//! `&[f32]` so that it does not depend on the deep-learning framework.

/// Width and height of the frame the lanes are reported in.
pub const FRAME_WIDTH: u32 = 1280;
/// Height of the frame the lanes are reported in.
pub const FRAME_HEIGHT: u32 = 720;
/// The number of rows sampled, y = 710 - 10 i.
pub const ROWS: usize = 56;
/// A lane is reported when its existence probability is over this.
pub const EXIST_THRESHOLD: f32 = 0.5;
/// A row has a point when its blurred maximum is over this.
pub const PROB_THRESHOLD: f32 = 0.3;
/// The side of the box blur.
pub const BLUR: usize = 9;

/// A detected lane: which output channel it came from and its x on each sampled row.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedLane {
    /// The lane slot, 1..=4 (2 ego-left, 3 ego-right, 1 and 4 beyond them).
    pub slot: u8,
    /// x in frame coordinates on row `row_y(i)`, `None` where the lane has no point.
    pub xs: [Option<u32>; ROWS],
}

/// The frame row of sample `i`: 710, 700, ..., 160.
pub fn row_y(i: usize) -> u32 {
    FRAME_HEIGHT - 10 - 10 * i as u32
}

impl DetectedLane {
    /// The lane's x at each of `h_samples` (frame rows), -2 where it has no point: one line of
    /// a prediction file's `lanes`.
    pub fn at_h_samples(&self, h_samples: &[i32]) -> Vec<f64> {
        h_samples
            .iter()
            .map(|&y| {
                let i = (0..ROWS).find(|&i| i64::from(row_y(i)) == i64::from(y));
                i.and_then(|i| self.xs[i]).map_or(-2.0, f64::from)
            })
            .collect()
    }
}

/// Why maps could not be turned into lanes.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PostprocessError {
    /// The maps are not 4 x height x width.
    #[error("expected 4 lane maps of {height}x{width} ({expected} values), got {found} values")]
    Shape {
        /// Map height.
        height: usize,
        /// Map width.
        width: usize,
        /// 4 x height x width.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// A map has no pixel.
    #[error("lane maps must be at least 1x1, got {height}x{width}")]
    Empty {
        /// Map height.
        height: usize,
        /// Map width.
        width: usize,
    },
}

/// Turns the four lane channels of a softmax output (CHW, channel c = lane slot c + 1, the
/// background channel left out) and the existence probabilities into lanes, in slot order.
pub fn lanes_from_maps(
    lane_maps: &[f32],
    height: usize,
    width: usize,
    exist: [f32; 4],
) -> Result<Vec<DetectedLane>, PostprocessError> {
    if height == 0 || width == 0 {
        return Err(PostprocessError::Empty { height, width });
    }
    let plane = height.checked_mul(width).ok_or(PostprocessError::Empty { height, width })?;
    let expected = plane.checked_mul(4).ok_or(PostprocessError::Empty { height, width })?;
    if lane_maps.len() != expected {
        return Err(PostprocessError::Shape { height, width, expected, found: lane_maps.len() });
    }
    let mut lanes = Vec::new();
    for (c, map) in lane_maps.chunks_exact(plane).enumerate() {
        // NaN is not over the threshold, so a NaN existence drops the lane.
        if exist[c].is_nan() || exist[c] <= EXIST_THRESHOLD {
            continue;
        }
        let blurred_rows = blur_rows(map, height, width);
        let mut xs = [None; ROWS];
        for (i, x) in xs.iter_mut().enumerate() {
            let row = &blurred_rows[i * width..(i + 1) * width];
            let mut best = (0, f32::NEG_INFINITY);
            for (col, &p) in row.iter().enumerate() {
                if p > best.1 {
                    best = (col, p);
                }
            }
            // Compare this way round so that a NaN maximum is no point.
            if best.1 > PROB_THRESHOLD {
                *x = Some((best.0 * FRAME_WIDTH as usize / width) as u32);
            }
        }
        if xs.iter().filter(|x| x.is_some()).count() >= 2 {
            lanes.push(DetectedLane { slot: c as u8 + 1, xs });
        }
    }
    Ok(lanes)
}

/// The 9x9 box blur (borders replicated, as OpenCV's `blur` with `BORDER_REPLICATE`) of `map`,
/// evaluated on the sampled rows only: `ROWS` rows of `width` values.
fn blur_rows(map: &[f32], height: usize, width: usize) -> Vec<f32> {
    let r = (BLUR / 2) as isize;
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut out = vec![0.0f32; ROWS * width];
    let mut column_sums = vec![0.0f32; width];
    for i in 0..ROWS {
        let y = (row_y(i) as usize * height / FRAME_HEIGHT as usize) as isize;
        column_sums.iter_mut().for_each(|s| *s = 0.0);
        for dy in -r..=r {
            let row = &map[clamp(y + dy, height) * width..][..width];
            for (s, v) in column_sums.iter_mut().zip(row) {
                *s += v;
            }
        }
        let out_row = &mut out[i * width..(i + 1) * width];
        for (x, o) in out_row.iter_mut().enumerate() {
            let mut sum = 0.0;
            for dx in -r..=r {
                sum += column_sums[clamp(x as isize + dx, width)];
            }
            *o = sum / (BLUR * BLUR) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: usize = 36;
    const W: usize = 64;

    /// Four empty maps.
    fn maps() -> Vec<f32> {
        vec![0.0; 4 * H * W]
    }

    /// Paints a vertical band of probability `p`, columns `x0..x1`, rows `y0..y1`, in `slot`.
    fn band(maps: &mut [f32], slot: usize, x0: usize, x1: usize, y0: usize, y1: usize, p: f32) {
        for y in y0..y1 {
            for x in x0..x1 {
                maps[(slot - 1) * H * W + y * W + x] = p;
            }
        }
    }

    #[test]
    fn a_band_becomes_a_lane_scaled_to_the_frame() {
        let mut m = maps();
        band(&mut m, 2, 16, 25, 0, H, 0.9); // 9 columns centred on column 20
        let lanes = lanes_from_maps(&m, H, W, [0.0, 0.9, 0.0, 0.0]).unwrap();
        assert_eq!(lanes.len(), 1);
        assert_eq!(lanes[0].slot, 2);
        assert!(lanes[0].xs.iter().all(|x| *x == Some(20 * 1280 / 64)), "{:?}", lanes[0].xs);
    }

    #[test]
    fn lanes_that_do_not_exist_or_are_faint_or_short_are_dropped() {
        let mut m = maps();
        band(&mut m, 1, 5, 16, 0, H, 0.9); // exists but existence 0.5 is not over 0.5
        band(&mut m, 2, 20, 31, 0, H, 0.29); // below the 0.3 threshold everywhere
        // A one-row band fades to 0.99 / 9 once blurred.
        band(&mut m, 3, 40, 51, 14, 15, 0.99);
        band(&mut m, 4, 55, 64, 0, H, 0.9);
        let lanes = lanes_from_maps(&m, H, W, [0.5, 0.9, 0.9, 0.9]).unwrap();
        assert_eq!(lanes.iter().map(|l| l.slot).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn the_blur_replicates_borders_and_averages_9x9() {
        let mut m = maps();
        band(&mut m, 1, 0, 5, 0, H, 0.9); // at the left border: replicated 4 more columns
        let lanes = lanes_from_maps(&m, H, W, [1.0, 0.0, 0.0, 0.0]).unwrap();
        assert_eq!(lanes[0].xs[0], Some(0));
        // Five columns of 0.9 plus four replicated ones fill the box at column 0: 0.9 > 0.3.
        let rows = blur_rows(&m[..H * W], H, W);
        assert!((rows[0] - 0.9).abs() < 1e-6 && (rows[4] - 0.5).abs() < 1e-6, "{:?}", &rows[..6]);
    }

    #[test]
    fn a_lane_keeps_only_rows_above_the_threshold() {
        let mut m = maps();
        // Map rows 17..36 (frame rows 340..719); blurred, rows 16 and up stay over 0.3
        // (0.8 x 4/9), row 15 does not (0.8 x 3/9): frame rows 320..710 have points.
        band(&mut m, 3, 31, 40, 17, H, 0.8); // 9 columns centred on 35
        let lanes = lanes_from_maps(&m, H, W, [0.0, 0.0, 0.9, 0.0]).unwrap();
        let ys: Vec<u32> = (0..ROWS).filter(|&i| lanes[0].xs[i].is_some()).map(row_y).collect();
        assert_eq!((ys.first(), ys.last()), (Some(&710), Some(&320)), "{ys:?}");
        let h_samples: Vec<i32> = (0..48).map(|i| 240 + 10 * i).collect();
        let sampled = lanes[0].at_h_samples(&h_samples);
        assert_eq!(sampled.len(), 48);
        assert_eq!((sampled[0], sampled[7], sampled[8]), (-2.0, -2.0, 700.0));
        assert_eq!(sampled[47], 700.0);
    }

    #[test]
    fn malformed_maps_are_errors_not_panics() {
        assert!(matches!(lanes_from_maps(&[0.0; 10], H, W, [1.0; 4]), Err(PostprocessError::Shape { .. })));
        assert!(matches!(lanes_from_maps(&[], 0, W, [1.0; 4]), Err(PostprocessError::Empty { .. })));
        assert!(lanes_from_maps(&[], usize::MAX, 3, [1.0; 4]).is_err());
        let nan = vec![f32::NAN; 4 * H * W];
        assert_eq!(lanes_from_maps(&nan, H, W, [1.0; 4]).unwrap(), vec![]);
        assert_eq!(lanes_from_maps(&maps(), H, W, [f32::NAN; 4]).unwrap(), vec![]);
        // A 1x1 map works too.
        let one = vec![0.9; 4];
        assert_eq!(lanes_from_maps(&one, 1, 1, [1.0, 0.0, 0.0, 0.0]).unwrap()[0].xs[0], Some(0));
    }
}
