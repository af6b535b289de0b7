//! The synthetic road scene: a camera looking down a road whose lanes curve in perspective.
//!
//! A lane at lateral offset `o` on a road of curvature `k`, seen by a camera at height `h` with
//! focal length `f`, projects to `x = vx + (o / h) d + (k f² h / 2) / d`, with `d = y - vy` the
//! distance below the horizon. So every lane here is `x(y) = vx + slope d + curve * D / d`: a
//! straight line through the vanishing point `(vx, vy)` plus a bend shared by all lanes, `curve`
//! pixels at `d = D` ([`CURVE_REF`]) and fading towards the bottom. The model is exact and kept,
//! so that tests can check labels, segmentation maps and transforms against it.

use crate::rng::Rng;

/// Frame width in pixels.
pub const WIDTH: u32 = 1280;
/// Frame height in pixels.
pub const HEIGHT: u32 = 720;
/// The distance below the horizon at which `Scene::curve` is measured.
pub const CURVE_REF: f64 = 20.0;

/// One lane marking of a scene.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneModel {
    /// The lane's position: 0 is the ego vehicle's left line, 1 its right line, -1 the next
    /// line to the left, and so on.
    pub position: i32,
    /// dx/dd of the straight part, in pixels per pixel below the horizon.
    pub slope: f64,
    /// The first row (top) where the marking is visible.
    pub top: f64,
    /// The painted width at the bottom row, in pixels (narrower with distance).
    pub width_bottom: f64,
    /// Dashed (a broken line) or solid.
    pub dashed: bool,
    /// The paint colour.
    pub color: [u8; 3],
}

/// A synthetic frame's geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The vanishing point's column.
    pub vx: f64,
    /// The horizon's row.
    pub vy: f64,
    /// The bend shared by all lanes, in pixels at `CURVE_REF` below the horizon.
    pub curve: f64,
    /// The lanes, left to right.
    pub lanes: Vec<LaneModel>,
}

impl Scene {
    /// A random scene with 2 to 5 lanes, always including the ego vehicle's two lines.
    ///
    /// The ranges keep the label generator's slope rule meaningful: the bend is never strong
    /// enough to tilt an ego line's chord to the other side of vertical.
    pub fn random(rng: &mut Rng) -> Scene {
        let vx = rng.uniform(540.0, 740.0);
        let vy = rng.uniform(220.0, 280.0);
        let curve = rng.uniform(-60.0, 60.0);
        let lane_width = rng.uniform(500.0, 750.0); // at the bottom row
        let ego_offset = rng.uniform(-0.2, 0.2); // in lane widths
        let bottom = f64::from(HEIGHT) - vy;
        let count = 2 + rng.below(4) as i32;
        let first = -(rng.below(count as u64 - 1) as i32);
        let top = vy + rng.uniform(15.0, 45.0);
        let lanes = (first..first + count)
            .map(|position| {
                let offset = (f64::from(position) - 0.5 - ego_offset) * lane_width;
                let yellow = position == first && rng.unit() < 0.3;
                LaneModel {
                    position,
                    slope: offset / bottom,
                    top: top + rng.uniform(0.0, 10.0),
                    width_bottom: rng.uniform(8.0, 13.0),
                    dashed: position != first && position != first + count - 1 && rng.unit() < 0.7,
                    color: if yellow { [225, 190, 70] } else { [235, 235, 228] },
                }
            })
            .collect();
        Scene { vx, vy, curve, lanes }
    }

    /// The lane's centre column on row `y` (fractional), or `None` above its top.
    pub fn x_at(&self, lane: &LaneModel, y: f64) -> Option<f64> {
        if y < lane.top || y <= self.vy {
            return None;
        }
        let d = y - self.vy;
        Some(self.vx + lane.slope * d + self.curve * CURVE_REF / d)
    }

    /// dx/dy of the lane at row `y` (below the horizon).
    pub fn dx_dy(&self, lane: &LaneModel, y: f64) -> f64 {
        let d = (y - self.vy).max(1e-6);
        lane.slope - self.curve * CURVE_REF / (d * d)
    }

    /// The TuSimple label of this scene's lanes at `h_samples`: each x rounded to the nearest
    /// pixel, -2 above the lane's top or outside the frame.
    pub fn label_lanes(&self, h_samples: &[i32]) -> Vec<Vec<i32>> {
        self.lanes
            .iter()
            .map(|lane| {
                h_samples
                    .iter()
                    .map(|&y| match self.x_at(lane, f64::from(y)) {
                        Some(x) if x >= 0.0 && x.round() < f64::from(WIDTH) => x.round() as i32,
                        _ => crate::tusimple::ABSENT,
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_have_two_to_five_lanes_with_both_ego_lines() {
        let mut counts = [0; 6];
        for i in 0..200 {
            let s = Scene::random(&mut Rng::derive(1, &[i]));
            counts[s.lanes.len()] += 1;
            let positions: Vec<i32> = s.lanes.iter().map(|l| l.position).collect();
            assert!(positions.contains(&0) && positions.contains(&1), "{positions:?}");
            assert!(s.lanes.windows(2).all(|w| w[0].slope < w[1].slope));
        }
        assert!(counts[2..].iter().all(|&c| c > 20), "{counts:?}");
    }

    #[test]
    fn labels_follow_the_model_to_half_a_pixel() {
        let scene = Scene::random(&mut Rng::new(5));
        let h: Vec<i32> = (0..56).map(|i| 160 + 10 * i).collect();
        for (lane, xs) in scene.lanes.iter().zip(scene.label_lanes(&h)) {
            for (&y, &x) in h.iter().zip(&xs) {
                match scene.x_at(lane, f64::from(y)) {
                    Some(m) if (0.0..1279.5).contains(&m) => assert!((f64::from(x) - m).abs() <= 0.5),
                    _ => assert_eq!(x, -2),
                }
            }
        }
    }
}
