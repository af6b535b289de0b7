//! From a TuSimple label line to SCNN's training targets: a 720x1280 map of lane ids and four
//! existence flags.
//!
//! The rule is the reference implementation's, because the network's output channels mean what
//! it decided: drop points with x < 0; keep lanes with more than one point; sort them by the
//! angle of the line from their first to their last point (`atan2(dy, -dx)`, under 90 degrees
//! when the lane leans left going down); the two lanes just left of vertical become ids 2
//! (ego-left) and 1, the two just right of it 3 (ego-right) and 4; other lanes are ignored. A
//! lane with at least 4 points is drawn as a 15-pixel-wide polyline with round joints, and its
//! existence flag is set; a lane with 2 or 3 points keeps its slot but is neither drawn nor
//! flagged (so a short ego line does not shift its neighbour into its slot).

use crate::tusimple::LabelLine;

/// Label map width (TuSimple frames are 1280x720).
pub const LABEL_WIDTH: u32 = 1280;
/// Label map height.
pub const LABEL_HEIGHT: u32 = 720;
/// Width of a drawn lane, in pixels.
pub const LANE_WIDTH: u32 = 15;
/// A lane is drawn (and exists) with at least this many points.
pub const MIN_DRAWN_POINTS: usize = 4;

/// The segmentation target of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegLabel {
    /// Map width.
    pub width: u32,
    /// Map height.
    pub height: u32,
    /// Row-major lane ids: 0 background, 1..=4 lanes.
    pub ids: Vec<u8>,
    /// Whether lanes 1..=4 were drawn.
    pub exist: [bool; 4],
}

impl SegLabel {
    /// The id at (x, y); `None` outside the map.
    pub fn at(&self, x: i64, y: i64) -> Option<u8> {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return None;
        }
        self.ids.get(y as usize * self.width as usize + x as usize).copied()
    }
}

/// A lane's valid points, (x, y) in frame pixels.
pub type Points = Vec<(i32, i32)>;

/// Which lane of `label` goes to which slot (index 0 = id 1, ..., 3 = id 4), as lane indices
/// into `label.lanes`, with their valid points.
pub fn assign_slots(label: &LabelLine) -> [Option<(usize, Points)>; 4] {
    let mut lanes: Vec<(f64, usize, Points)> = label
        .lanes
        .iter()
        .enumerate()
        .filter_map(|(i, xs)| {
            let points: Points =
                xs.iter().zip(&label.h_samples).filter(|(x, _)| **x >= 0).map(|(&x, &y)| (x, y)).collect();
            if points.len() < 2 {
                return None;
            }
            let (first, last) = (points[0], points[points.len() - 1]);
            let angle =
                (f64::from(last.1) - f64::from(first.1)).atan2(f64::from(first.0) - f64::from(last.0));
            Some((angle.to_degrees(), i, points))
        })
        .collect();
    // A stable sort keeps the file's order between lanes of equal angle.
    lanes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let right = lanes.iter().position(|l| l.0 > 90.0).unwrap_or(lanes.len());
    let mut slots: [Option<(usize, Points)>; 4] = Default::default();
    let mut take = |slot: usize, k: Option<usize>| {
        if let Some((_, i, points)) = k.and_then(|k| lanes.get(k)) {
            slots[slot] = Some((*i, points.clone()));
        }
    };
    take(0, right.checked_sub(2));
    take(1, right.checked_sub(1));
    take(2, Some(right));
    take(3, Some(right + 1));
    slots
}

/// Generates the 720x1280 segmentation target of `label`.
pub fn generate(label: &LabelLine) -> SegLabel {
    let (width, height) = (LABEL_WIDTH, LABEL_HEIGHT);
    let mut map = SegLabel { width, height, ids: vec![0; (width * height) as usize], exist: [false; 4] };
    for (slot, lane) in assign_slots(label).into_iter().enumerate() {
        let Some((_, points)) = lane else { continue };
        if points.len() < MIN_DRAWN_POINTS {
            continue;
        }
        for pair in points.windows(2) {
            draw_segment(&mut map, pair[0], pair[1], slot as u8 + 1);
        }
        map.exist[slot] = true;
    }
    map
}

/// Sets every pixel within `LANE_WIDTH / 2` of the segment p-q (a capsule: round ends make
/// round joints) to `id`.
fn draw_segment(map: &mut SegLabel, p: (i32, i32), q: (i32, i32), id: u8) {
    let r = f64::from(LANE_WIDTH) / 2.0;
    let (px, py, qx, qy) = (f64::from(p.0), f64::from(p.1), f64::from(q.0), f64::from(q.1));
    let clamp = |v: f64, n: u32| v.clamp(0.0, f64::from(n) - 1.0) as u32;
    let (x0, x1) = (clamp(px.min(qx) - r, map.width), clamp(px.max(qx) + r, map.width));
    let (y0, y1) = (clamp(py.min(qy) - r, map.height), clamp(py.max(qy) + r, map.height));
    let (dx, dy) = (qx - px, qy - py);
    let len2 = dx * dx + dy * dy;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (ex, ey) = (f64::from(x) - px, f64::from(y) - py);
            let t = if len2 > 0.0 { ((ex * dx + ey * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let (fx, fy) = (ex - t * dx, ey - t * dy);
            if fx * fx + fy * fy <= r * r {
                map.ids[(y * map.width + x) as usize] = id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::synth::scene::Scene;

    fn h() -> Vec<i32> {
        (0..56).map(|i| 160 + 10 * i).collect()
    }

    /// A straight lane through (640 + s * 100, 260) and on, present from row 260.
    fn straight(s: f64) -> Vec<i32> {
        h().iter()
            .map(|&y| if y < 260 { -2 } else { (640.0 + s * f64::from(y - 160)).round() as i32 })
            .collect()
    }

    fn line(lanes: Vec<Vec<i32>>) -> LabelLine {
        LabelLine { lanes, h_samples: h(), raw_file: "clips/x/1/20.jpg".into() }
    }

    /// The id under lane `xs` at h_sample index `i`.
    fn id_on(map: &SegLabel, xs: &[i32], i: usize) -> Option<u8> {
        map.at(i64::from(xs[i]), i64::from(h()[i]))
    }

    #[test]
    fn lanes_get_ids_by_slope_whatever_their_order_in_the_file() {
        // File order: right-outer, ego-left, left-outer, ego-right.
        let lanes = vec![straight(1.5), straight(-0.4), straight(-1.5), straight(0.4)];
        let map = generate(&line(lanes.clone()));
        let ids: Vec<Option<u8>> = lanes.iter().map(|xs| id_on(&map, xs, 30)).collect();
        assert_eq!(ids, vec![Some(4), Some(2), Some(1), Some(3)]);
        assert_eq!(map.exist, [true; 4]);
        assert_eq!(map.at(640, 700), Some(0));
    }

    #[test]
    fn only_the_two_lanes_nearest_vertical_on_each_side_are_kept() {
        let lanes = vec![straight(-2.5), straight(-1.5), straight(-0.4), straight(0.4)];
        let map = generate(&line(lanes.clone()));
        assert_eq!(id_on(&map, &lanes[0], 20), Some(0));
        assert_eq!(id_on(&map, &lanes[1], 30), Some(1));
        assert_eq!(map.exist, [true, true, true, false]);
        let slots = assign_slots(&line(lanes));
        assert_eq!(
            slots.iter().map(|s| s.as_ref().map(|s| s.0)).collect::<Vec<_>>(),
            vec![Some(1), Some(2), Some(3), None]
        );
    }

    #[test]
    fn lanes_with_one_point_are_dropped_and_short_lanes_hold_their_slot_undrawn() {
        let mut one_point = vec![-2; 56];
        one_point[40] = 300;
        let mut short = vec![-2; 56];
        short[53..].copy_from_slice(&[500, 497, 494]); // 3 points, nearly vertical: ego-left
        let lanes = vec![one_point, short.clone(), straight(-1.0), straight(0.5)];
        let map = generate(&line(lanes.clone()));
        assert_eq!(map.exist, [true, false, true, false]);
        assert_eq!(id_on(&map, &lanes[2], 50), Some(1));
        assert_eq!(id_on(&map, &short, 54), Some(0));
        assert_eq!(map.at(300, 560), Some(0));
    }

    #[test]
    fn drawn_lanes_are_15_pixels_wide() {
        let vertical: Vec<i32> = h().iter().map(|_| 400).collect();
        let map = generate(&line(vec![vertical, straight(0.5)]));
        let row: Vec<u8> = (380..420).map(|x| map.at(x, 400).unwrap()).collect();
        assert_eq!(row.iter().filter(|&&v| v == 2).count(), 15);
        assert_eq!(
            (map.at(392, 400), map.at(393, 400), map.at(407, 400), map.at(408, 400)),
            (Some(0), Some(2), Some(2), Some(0))
        );
        // Round end caps: 7 pixels past the last point, not 8.
        assert_eq!(
            (map.at(400, 710 + 7), map.at(400, 160 - 7), map.at(400, 160 - 8)),
            (Some(2), Some(2), Some(0))
        );
    }

    #[test]
    fn coordinates_far_outside_the_frame_do_not_panic() {
        let wild = vec![vec![i32::MAX, 0, 5, i32::MAX - 1], vec![1_000_000, 2_000_000, 3_000_000, 4_000_000]];
        let label =
            LabelLine { lanes: wild, h_samples: vec![i32::MIN, -5, 100_000, i32::MAX], raw_file: "a".into() };
        let map = generate(&label);
        assert_eq!(map.ids.len(), 1280 * 720);
    }

    /// On synthetic frames the ids follow the road model: lanes with more than one point, in
    /// left-to-right order of their position, the two last of those left of the ego vehicle
    /// get 1 and 2, the two first right of it 3 and 4.
    #[test]
    fn synthetic_frames_get_ids_and_flags_from_their_model() {
        for seed in 0..40 {
            let scene = Scene::random(&mut Rng::new(seed));
            let label = line(scene.label_lanes(&h()));
            let map = generate(&label);
            let visible: Vec<(i32, &Vec<i32>)> = scene
                .lanes
                .iter()
                .zip(&label.lanes)
                .filter(|(_, xs)| xs.iter().filter(|&&x| x >= 0).count() > 1)
                .map(|(l, xs)| (l.position, xs))
                .collect();
            let left: Vec<_> = visible.iter().filter(|(p, _)| *p <= 0).collect();
            let right: Vec<_> = visible.iter().filter(|(p, _)| *p >= 1).collect();
            let mut expected = [None, None, None, None];
            for (slot, lane) in [(1, left.len().checked_sub(1)), (0, left.len().checked_sub(2))] {
                expected[slot] = lane.map(|k| left[k]);
            }
            expected[2] = right.first().copied();
            expected[3] = right.get(1).copied();
            for (slot, lane) in expected.iter().enumerate() {
                let drawn = lane.is_some_and(|(_, xs)| xs.iter().filter(|&&x| x >= 0).count() >= 4);
                assert_eq!(map.exist[slot], drawn, "seed {seed} slot {slot}");
                if let Some((_, xs)) = lane.filter(|_| drawn) {
                    // The lane's lowest point carries its id (unless a later lane overdraws it).
                    let i = xs.iter().rposition(|&x| x >= 0).unwrap();
                    assert_eq!(id_on(&map, xs, i), Some(slot as u8 + 1), "seed {seed} slot {slot}");
                }
            }
        }
    }
}
